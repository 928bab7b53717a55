/*
 * Keys of the v2-encrypted tc-eBPF data path (bpf/pdm_v2enc.h): per-flow
 * keys computed in user space with lib/'s HKDF, written into the BPF maps
 * by the object's install program; a thread answers the programs' key
 * requests (new flow, rotation, a peer's Kri to find). docs/agent.md
 * "Fast path: v2-encrypted" says what goes out unmarked meanwhile.
 *
 * For the loader (tools/agent/ebpf.c): between open and load,
 *     agent_ebpf_keys_size(skel->obj, &cfg->core);
 * after the skeleton is loaded,
 *     agent_ebpf_keys_start(&ek, skel->obj, keys, &cfg->core);
 * once the agent's privileges are dropped, agent_ebpf_keys_run(ek); at exit
 * agent_ebpf_keys_stop(ek) (before the object is destroyed), and agent_ebpf_keys_status_write() for
 * --status.
 */
#ifndef PDM_TOOLS_AGENT_EBPF_KEYS_H
#define PDM_TOOLS_AGENT_EBPF_KEYS_H

#include "agent.h"

#include <pdm/profile.h>

#include <stdint.h>
#include <stdio.h>

/* bpf/ seals and opens v2-encrypted: ebpf.c no longer refuses those peers. */
#define PDM_BPF_V2ENC 1

struct bpf_object;
struct agent_keys;
struct agent_ebpf_keys;

/* Directions of a slot (PDM_V2ENC_TX / _RX). */
#define EBPF_KEYS_TX 0
#define EBPF_KEYS_RX 1

/* Install flags, bpf/pdm_v2enc.h's PDM_V2ENC_OP_*. */
#define EBPF_KEYS_ARM_TX 2 /* arm the sender at this Kri (seq 0) */
#define EBPF_KEYS_ARM_RX 4 /* the receiver's current Kri is this one */

/* Sizes the v2enc maps of obj (opened, not loaded yet): for cc's
 * flow_capacity flows (both directions, two parities, two kinds: eight
 * 616-byte slots, about 5.8 KB of preallocated kernel memory per flow) when a peer is v2-encrypted,
 * else to almost nothing. 0 or a negative PDM_ERR_* code. */
int agent_ebpf_keys_size(struct bpf_object *obj, const struct agent_core_config *cc);

/*
 * Finds the v2enc maps and the install program in obj (loaded) and, with
 * keys != NULL, hands the secrets of the pairs that keys names in advance
 * to BPF (on this thread, before the programs are attached). keys: the
 * agent's secrets and Kri history, from which agent_ebpf_keys_run()'s
 * thread answers the programs' requests (cc gives each peer's
 * --rotate-packets); NULL: no thread, the caller installs keys itself
 * (tests, bench). Returns 0 or a negative PDM_ERR_* code
 * (PDM_ERR_UNSUPPORTED: built without libbpf, or the object has no
 * v2-encrypted part).
 */
int agent_ebpf_keys_start(struct agent_ebpf_keys **out, struct bpf_object *obj,
                          struct agent_keys *keys, const struct agent_core_config *cc);

/*
 * Starts the thread that answers the programs' requests (nothing when
 * started without keys, or ek NULL). Called once the agent's privileges
 * are dropped and the main thread's seccomp filter is in: capabilities
 * are per thread, and a thread made before the drop kept all of root's
 * (the packets' tuples reach it through the request ring). Returns 0 or
 * PDM_ERR_NOMEM. Until then requests wait in the ring.
 */
int agent_ebpf_keys_run(struct agent_ebpf_keys *ek);

/* Stops the thread, wipes, frees (NULL is fine). */
void agent_ebpf_keys_stop(struct agent_ebpf_keys *ek);

/*
 * Derives the key of flow direction t (t->src sends; dir says whether we
 * are that sender, EBPF_KEYS_TX, or its receiver) at Kri kri under s and
 * installs it into its slot (parity kri mod 2), then applies arm
 * (EBPF_KEYS_ARM_*: the sender's first Kri with limit packets per key, or
 * the receiver's current Kri). Returns 0, EBPF_KEYS_ALREADY_ARMED (arm
 * included EBPF_KEYS_ARM_TX and the sender runs already: nothing written,
 * its slots keep the keys in use), or a negative PDM_ERR_* code. A slot
 * that holds kri's key already is left as it is (0).
 */
#define EBPF_KEYS_ALREADY_ARMED 1

int agent_ebpf_keys_install(struct agent_ebpf_keys *ek, const struct pdm_profile_secret *s,
                            const struct pdm_flow_tuple *t, int dir, uint16_t kri, int arm,
                            uint32_t limit);

/*
 * Answers pending requests with secret s for every flow (tests and bench,
 * without the thread); waits up to timeout_ms for the first; then, as the
 * thread does five times a second, deletes a step of slots whose flow
 * state is gone. Returns the number answered or a negative PDM_ERR_* code.
 */
int agent_ebpf_keys_serve(struct agent_ebpf_keys *ek, const struct pdm_profile_secret *s,
                          uint32_t limit, int timeout_ms);

/*
 * Keystream lanes (docs/agent.md "Keystream from user space"): user space
 * computes the AES counter blocks of up to n busy AES-GCM flow directions'
 * next options ahead (a sender's next 1024, a receiver's peer's next 512
 * positions; OpenSSL, AES-NI where the CPU has it), which the program uses
 * instead of the kernel's ecb(aes). All of them by default
 * (32, x86-64 only); the lanes from n on are given back. For tests and the
 * bench, before agent_ebpf_keys_run(). Returns the number now allowed
 * (0: none, or no lanes in this object or on this CPU).
 */
size_t agent_ebpf_keys_lanes(struct agent_ebpf_keys *ek, size_t n);

/* `--status` lines of the v2-encrypted fast path. */
void agent_ebpf_keys_status_write(FILE *f, struct agent_ebpf_keys *ek);

#endif /* PDM_TOOLS_AGENT_EBPF_KEYS_H */
