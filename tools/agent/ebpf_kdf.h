/*
 * User-space side of bpf/kdf.h (flow keys derived in BPF): the per-secret
 * HMAC states a BPF program derives a flow direction's STK, BaseNonce and
 * RN key from, and the same derivation in C from those states (a model of
 * the BPF code: the test checks both against lib's HKDF).
 *
 * For the loader: per secret (pr a struct agent_secret, keys.h),
 *     struct pdm_kdf_secret ks;
 *     agent_ebpf_kdf_secret(&ks, &pr->sec);
 *     bpf_map_update_elem(fd_of_the_secret_map, &slot, &ks, BPF_ANY);
 *     agent_ebpf_kdf_wipe(&ks);
 * The states stand in for prk (HMAC with them is HMAC with prk): they are
 * as secret as prk and are wiped the same way.
 */
#ifndef PDM_TOOLS_AGENT_EBPF_KDF_H
#define PDM_TOOLS_AGENT_EBPF_KDF_H

#include <pdm/profile.h>

#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>

#include "../../bpf/kdf.h"

/*
 * The states of secret s (pdm_profile_secret_init) into *out: the SHA-2
 * chaining values after one block of prk ^ ipad and prk ^ opad, the suite
 * id and sizes. Returns 0, PDM_ERR_INVAL (NULL, a wiped secret, Nn other
 * than 12), PDM_ERR_UNSUPPORTED (a KDF other than
 * HKDF-SHA256/384/512). *out is zeroed on failure.
 */
int agent_ebpf_kdf_secret(struct pdm_kdf_secret *out, const struct pdm_profile_secret *s);

/* Zeroes *k (not optimized away). */
void agent_ebpf_kdf_wipe(struct pdm_kdf_secret *k);

/*
 * LabeledExpand(prk, label, info, L) from the states of k, for L <= Nh
 * (one HMAC block, as bpf/kdf.h does) and labeled_info of at most 111
 * bytes. Returns 0 or PDM_ERR_INVAL.
 */
int agent_ebpf_kdf_expand(const struct pdm_kdf_secret *k, const char *label, const uint8_t *info,
                          size_t info_len, uint8_t *out, size_t L);

#endif
