/* Design A plumbing only (no stamping yet): the ceiling of the veth
 * segmentation detour. Section "tc/out" on the real device's egress,
 * "tc/seg" on pdm1's ingress. Ifindexes patched in by the loader script
 * through the .rodata globals (bpftool/tc cannot set them: compiled in with
 * -D for the prototype). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "gso.h"

#ifndef SEG_IF
#define SEG_IF 0
#endif
#ifndef OUT_IF
#define OUT_IF 0
#endif

static const struct pdm_gso_cfg cfg = {SEG_IF, OUT_IF};

SEC("tc/out") int gso_out(struct __sk_buff *skb)
{
    if (pdm_gso_is_returning(skb))
        return TC_ACT_OK;
    if (pdm_gso_is_super(skb)) {
        int r = pdm_gso_divert(&cfg);
        return r < 0 ? TC_ACT_OK : r;
    }
    return TC_ACT_OK;
}

SEC("tc/seg") int gso_seg(struct __sk_buff *skb)
{
    return pdm_gso_return(skb, &cfg);
}

char _license[] SEC("license") = "GPL";
