/*
 * The Wireshark side of the PDMv2 plugin (pdmv2.h): protocol `pdmv2`, its
 * fields, expert infos and the `pdmv2.keylog_file` preference.
 *
 * Wireshark has no dissector table for IPv6 option types, so this is a
 * postdissector: it runs after every frame, asks for the `ipv6` protocol
 * item (set_postdissector_wanted_hfids), takes the bytes from the IPv6
 * header it covers and parses them with pdm_pkt_parse(). Wireshark's own
 * IPv6 dissection is untouched (it keeps its "Invalid length" note for
 * PDMv2; the pdmv2 tree is the decode).
 *
 * Each frame's result is computed once, on the first pass in capture
 * order (pinfo->fd->visited false), kept in file scope, and shown as is
 * afterwards, so tshark's second pass and the GUI agree with the first.
 */
#define WS_BUILD_DLL
#include <wireshark.h>

#include <epan/expert.h>
#include <epan/packet.h>
#include <epan/prefs.h>
#include <epan/proto.h>
#include <epan/proto_data.h>
#include <wsutil/report_message.h>

#include <pdm/time.h>

#include "pdmv2.h"

#ifndef PDMV2_PLUGIN_VERSION
#define PDMV2_PLUGIN_VERSION "0.0"
#endif

WS_DLL_PUBLIC_DEF const gchar plugin_version[] = PDMV2_PLUGIN_VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = 4;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = 0;
WS_DLL_PUBLIC void plugin_register(void);

static int proto_pdmv2 = -1;
static int hf_ipv6 = -1;
static gint ett_pdmv2 = -1;
static const char *pref_keylog = "";

static int hf_format = -1, hf_version = -1, hf_rn = -1, hf_f = -1, hf_auth = -1, hf_kri = -1;
static int hf_sealed = -1, hf_scale_dtlr = -1, hf_scale_dtls = -1, hf_gp = -1, hf_psntp = -1;
static int hf_psnlr = -1, hf_dtlr = -1, hf_dtls = -1, hf_dtlr_ns = -1, hf_dtls_ns = -1;
static int hf_flow = -1, hf_role = -1, hf_server_delay = -1, hf_client_delay = -1, hf_rtd = -1;
static int hf_psnlr_frame = -1, hf_rtd_frame = -1;
static int hf_epoch = -1, hf_reserved = -1; /* draft -14 (v2-14) only */

static expert_field ei_auth_failed = EI_INIT, ei_no_key = EI_INIT, ei_replayed = EI_INIT,
                    ei_out_of_order = EI_INIT, ei_duplicate = EI_INIT, ei_rtd_negative = EI_INIT,
                    ei_undecoded = EI_INIT;

/* ---- the first pass ------------------------------------------------------ */

static void pdmv2_init(void)
{
    unsigned bad = 0;

    pw_flows_reset();
    if (pw_keys_load(pref_keylog, &bad) < 0)
        report_failure("pdmv2: cannot read the key log %s", pref_keylog);
    else if (bad)
        report_failure("pdmv2: %u line(s) of the key log %s do not parse; skipped", bad,
                       pref_keylog);
}

static void pdmv2_cleanup(void)
{
    pw_free_all();
}

/* The frame's result, computed now when this is the first pass. NULL when
 * the analyser would not account the packet. */
static struct pw_frame *frame_result(packet_info *pinfo, const uint8_t *pkt,
                                     const struct pdm_pkt_info *info, int ip_start, int in_frame)
{
    struct pw_frame *fr = p_get_proto_data(wmem_file_scope(), pinfo, proto_pdmv2, 0);
    uint64_t ts;

    if (fr || pinfo->fd->visited)
        return fr && fr->status ? fr : NULL;
    fr = wmem_new0(wmem_file_scope(), struct pw_frame);
    ts = (uint64_t)pinfo->abs_ts.secs * 1000000000u + (uint64_t)pinfo->abs_ts.nsecs;
    if (pw_account(pkt, info, ts, pinfo->num, fr) != 0)
        fr->status = 0;
    fr->ip_start = ip_start;
    fr->ip_in_frame = in_frame;
    p_add_proto_data(wmem_file_scope(), pinfo, proto_pdmv2, 0, fr);
    return fr->status ? fr : NULL;
}

/* ---- the tree ------------------------------------------------------------ */

static proto_item *add_gen_u64(proto_tree *t, int hf, tvbuff_t *tvb, int off, int len, uint64_t v)
{
    proto_item *it = proto_tree_add_uint64(t, hf, tvb, off, len, v);
    proto_item_set_generated(it);
    return it;
}

/* The metric fields. v2: the 14-byte layout of pdm_fields_pack() at off
 * (an unencrypted option's tail or a decrypted plaintext); else RFC 8250's,
 * off pointing at the option's Type. */
static void add_fields(proto_tree *t, tvbuff_t *tvb, int off, int v2, const struct pdm_fields *f)
{
    int o = v2 ? off : off + 2;

    proto_tree_add_item(t, hf_scale_dtlr, tvb, o, 1, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_scale_dtls, tvb, o + 1, 1, ENC_BIG_ENDIAN);
    if (v2) {
        proto_tree_add_item(t, hf_gp, tvb, o + 2, 4, ENC_BIG_ENDIAN);
        o += 4;
    }
    proto_tree_add_item(t, hf_psntp, tvb, o + 2, 2, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_psnlr, tvb, o + 4, 2, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_dtlr, tvb, o + 6, 2, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_dtls, tvb, o + 8, 2, ENC_BIG_ENDIAN);
    add_gen_u64(t, hf_dtlr_ns, tvb, o + 6, 2, pdm_time_decode_ns(f->delta_tlr, f->scale_dtlr));
    add_gen_u64(t, hf_dtls_ns, tvb, o + 8, 2, pdm_time_decode_ns(f->delta_tls, f->scale_dtls));
}

/* Flow, role, delays and the frames they pair with. */
static void add_metrics(proto_tree *t, packet_info *pinfo, proto_item *top, tvbuff_t *tvb,
                        const struct pw_frame *fr)
{
    const struct pdm_metrics_sample *s = &fr->sample;
    proto_item *it;

    it = proto_tree_add_uint(t, hf_flow, tvb, 0, 0, fr->flow);
    proto_item_set_generated(it);
    it = proto_tree_add_string(t, hf_role, tvb, 0, 0,
                               fr->role == PDM_METRICS_FROM_CLIENT ? "client" : "server");
    proto_item_set_generated(it);
    if (fr->replayed)
        expert_add_info(pinfo, top, &ei_replayed);
    if (!fr->accounted)
        return;
    if (s->seq == PDM_METRICS_SEQ_DUPLICATE)
        expert_add_info(pinfo, top, &ei_duplicate);
    else if (fr->behind)
        expert_add_info(pinfo, top, &ei_out_of_order);
    if (s->have & PDM_METRICS_HAVE_SERVER_DELAY)
        add_gen_u64(t, hf_server_delay, tvb, 0, 0, s->server_delay_ns);
    if (s->have & PDM_METRICS_HAVE_CLIENT_DELAY)
        add_gen_u64(t, hf_client_delay, tvb, 0, 0, s->client_delay_ns);
    if (s->have & PDM_METRICS_HAVE_RTD)
        add_gen_u64(t, hf_rtd, tvb, 0, 0, s->rtd_ns);
    if (s->have & PDM_METRICS_RTD_NEGATIVE)
        expert_add_info_format(pinfo, top, &ei_rtd_negative,
                               "Round trip came out negative (-%" PRIu64 " ns): not a delay",
                               s->rtd_ns);
    if (fr->psnlr_frame) {
        it = proto_tree_add_uint(t, hf_psnlr_frame, tvb, 0, 0, fr->psnlr_frame);
        proto_item_set_generated(it);
    }
    if (fr->rtd_frame) {
        it = proto_tree_add_uint(t, hf_rtd_frame, tvb, 0, 0, fr->rtd_frame);
        proto_item_set_generated(it);
    }
}

/* The PDMv2 clear part (Version, RN, F) and, for an encrypted option, what
 * opening it gave. Returns the tvb and offset of the fields to show, or
 * NULL when they are not to be shown. */
static tvbuff_t *add_v2_head(proto_tree *t, packet_info *pinfo, tvbuff_t *otvb,
                             const struct pw_frame *fr, int encrypted)
{
    static const char *const auth[] = {"", "", "opened", "failed", "no key"};
    proto_item *it;
    tvbuff_t *ptvb;

    proto_tree_add_item(t, hf_version, otvb, 2, 1, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_rn, otvb, 4, 2, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_f, otvb, 4, 2, ENC_BIG_ENDIAN);
    if (!encrypted)
        return otvb;
    proto_tree_add_item(t, hf_sealed, otvb, 6, PDM_V2_SEALED_SIZE, ENC_NA);
    if (!fr)
        return NULL;
    it = proto_tree_add_string(t, hf_auth, otvb, 6, PDM_V2_SEALED_SIZE, auth[fr->status]);
    proto_item_set_generated(it);
    if (fr->status == PW_AUTH_FAILED)
        expert_add_info(pinfo, it, &ei_auth_failed);
    if (fr->status == PW_NO_KEY)
        expert_add_info(pinfo, it, &ei_no_key);
    if (fr->status != PW_OPENED)
        return NULL;
    it = proto_tree_add_uint(t, hf_kri, otvb, 6, PDM_V2_SEALED_SIZE, fr->kri);
    proto_item_set_generated(it);
    /* The plaintext as a data source of its own, as TLS shows decrypted
     * records: the fields below point into it. */
    ptvb = tvb_new_child_real_data(otvb, fr->plain, PDM_V2_PT_SIZE, PDM_V2_PT_SIZE);
    add_new_data_source(pinfo, ptvb, "Decrypted PDMv2");
    return ptvb;
}

/*
 * Draft -14's 24-byte layout (include/pdm/codec.h PDM_V214_*): every
 * field at its own offset, the PSNs in full (the same pdmv2.psntp and
 * pdmv2.psnlr fields, 32 bits wide here). Never encrypted.
 */
static void add_v214(proto_tree *t, tvbuff_t *otvb, uint32_t *psntp, uint32_t *psnlr)
{
    uint8_t sl = tvb_get_guint8(otvb, PDM_V214_OFF_SCALE_DTLR);
    uint8_t ss = tvb_get_guint8(otvb, PDM_V214_OFF_SCALE_DTLS);

    proto_tree_add_item(t, hf_version, otvb, PDM_V214_OFF_VER_EPOCH, 1, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_epoch, otvb, PDM_V214_OFF_VER_EPOCH, 2, ENC_BIG_ENDIAN);
    proto_tree_add_item_ret_uint(t, hf_psntp, otvb, PDM_V214_OFF_PSNTP, 4, ENC_BIG_ENDIAN, psntp);
    proto_tree_add_item_ret_uint(t, hf_psnlr, otvb, PDM_V214_OFF_PSNLR, 4, ENC_BIG_ENDIAN, psnlr);
    proto_tree_add_item(t, hf_gp, otvb, PDM_V214_OFF_GP, 4, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_scale_dtlr, otvb, PDM_V214_OFF_SCALE_DTLR, 1, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_scale_dtls, otvb, PDM_V214_OFF_SCALE_DTLS, 1, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_reserved, otvb, PDM_V214_OFF_RESERVED, 2, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_dtlr, otvb, PDM_V214_OFF_DTLR, 2, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_dtls, otvb, PDM_V214_OFF_DTLS, 2, ENC_BIG_ENDIAN);
    add_gen_u64(t, hf_dtlr_ns, otvb, PDM_V214_OFF_DTLR, 2,
                pdm_time_decode_ns(tvb_get_ntohs(otvb, PDM_V214_OFF_DTLR), sl));
    add_gen_u64(t, hf_dtls_ns, otvb, PDM_V214_OFF_DTLS, 2,
                pdm_time_decode_ns(tvb_get_ntohs(otvb, PDM_V214_OFF_DTLS), ss));
}

static void show(proto_tree *tree, packet_info *pinfo, tvbuff_t *dtvb, int ip_start,
                 const struct pdm_pkt_info *info, const struct pw_frame *fr)
{
    enum pdm_format fmt = info->pdm.format;
    int off = ip_start + (int)info->pdm_off, len = (int)pdm_option_size(fmt);
    tvbuff_t *otvb = tvb_new_subset_length(dtvb, off, len), *ftvb = otvb;
    proto_item *top = proto_tree_add_item(tree, proto_pdmv2, dtvb, off, len, ENC_NA);
    proto_tree *t = proto_item_add_subtree(top, ett_pdmv2);
    proto_item *it = proto_tree_add_string(t, hf_format, otvb, 0, 2, pdm_format_name(fmt));
    const struct pdm_fields *f = fr ? &fr->fields : &info->pdm.fields;

    proto_item_set_generated(it);
    proto_item_append_text(top, ", %s", pdm_format_name(fmt));
    if (fmt == PDM_FORMAT_V2_14) {
        uint32_t psntp = 0, psnlr = 0;
        add_v214(t, otvb, &psntp, &psnlr);
        proto_item_append_text(top, ", PSNTP %u, PSNLR %u", psntp, psnlr);
        if (fr)
            add_metrics(t, pinfo, top, otvb, fr);
        return;
    }
    if (fmt != PDM_FORMAT_RFC8250)
        ftvb = add_v2_head(t, pinfo, otvb, fr, fmt == PDM_FORMAT_V2_ENCRYPTED);
    if (ftvb) {
        add_fields(t, ftvb, ftvb == otvb && fmt == PDM_FORMAT_V2 ? 6 : 0, fmt != PDM_FORMAT_RFC8250,
                   f);
        proto_item_append_text(top, ", PSNTP %u, PSNLR %u", f->psntp, f->psnlr);
    }
    if (fr)
        add_metrics(t, pinfo, top, otvb, fr);
}

/* The bytes of the packet whose IPv6 header starts at ip_start in dtvb,
 * as the analyser reads them (tools/analyze/core.c, an_frame): a packet
 * cut by the snapshot length is taken as what was captured, its Payload
 * Length patched in a copy. */
static const uint8_t *packet_bytes(packet_info *pinfo, tvbuff_t *dtvb, int ip_start, size_t *len)
{
    int avail = tvb_captured_length_remaining(dtvb, ip_start);
    const uint8_t *p;
    uint8_t *copy;

    if (avail < PDM_IPV6_HDR_SIZE)
        return NULL;
    p = tvb_get_ptr(dtvb, ip_start, avail);
    *len = (size_t)avail;
    if (tvb_reported_length_remaining(dtvb, ip_start) <= avail ||
        PDM_IPV6_HDR_SIZE + (size_t)(p[4] << 8 | p[5]) <= *len)
        return p;
    copy = (uint8_t *)wmem_memdup(pinfo->pool, p, *len);
    copy[4] = (uint8_t)((*len - PDM_IPV6_HDR_SIZE) >> 8);
    copy[5] = (uint8_t)(*len - PDM_IPV6_HDR_SIZE);
    return copy;
}

/* The outermost IPv6 header in the tree: from the fields primed for the
 * postdissector (the first pass), else by walking a visible tree (the GUI
 * showing a packet). Returns 1 with *dtvb and *start, or 0. */
static int find_ipv6(proto_tree *tree, tvbuff_t **dtvb, int *start)
{
    GPtrArray *arr = proto_get_finfo_ptr_array(tree, hf_ipv6), *found = NULL;
    int ok = 0;

    if (!arr || arr->len == 0)
        arr = found = proto_find_first_finfo(tree, hf_ipv6);
    if (arr && arr->len) {
        const field_info *fi = g_ptr_array_index(arr, 0);
        *dtvb = fi->ds_tvb;
        *start = fi->start;
        ok = *dtvb != NULL;
    }
    if (found)
        g_ptr_array_free(found, TRUE);
    return ok;
}

static int dissect_pdmv2(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    const struct pw_frame *seen = p_get_proto_data(wmem_file_scope(), pinfo, proto_pdmv2, 0);
    struct pdm_pkt_info info;
    const uint8_t *pkt;
    tvbuff_t *dtvb = NULL;
    size_t len = 0;
    int rv, start = 0;

    if (!tree)
        return 0;
    if (seen && seen->ip_in_frame) {
        /* A later pass: where the first pass found it (tshark -2 primes
         * the postdissector's fields on the first pass only). */
        dtvb = tvb;
        start = seen->ip_start;
    } else if (!find_ipv6(tree, &dtvb, &start)) {
        return 0;
    }
    if (!(pkt = packet_bytes(pinfo, dtvb, start, &len)))
        return 0;
    rv = pdm_pkt_parse(pkt, len, PDM_OPT_TYPE, &info);
    if (rv == PDM_ERR_OPT_LENGTH || rv == PDM_ERR_OPT_VERSION || rv == PDM_ERR_OPT_RN ||
        rv == PDM_ERR_DUPLICATE) {
        proto_item *top =
            proto_tree_add_item(tree, proto_pdmv2, dtvb, start, PDM_IPV6_HDR_SIZE, ENC_NA);
        expert_add_info_format(pinfo, top, &ei_undecoded, "PDM option not decoded: %s",
                               pdm_strerror(rv));
        return (int)tvb_captured_length(tvb);
    }
    if (rv != 0 || !info.has_pdm)
        return 0;
    show(tree, pinfo, dtvb, start, &info, frame_result(pinfo, pkt, &info, start, dtvb == tvb));
    return (int)tvb_captured_length(tvb);
}

/* ---- registration -------------------------------------------------------- */

static void proto_register_pdmv2(void)
{
    static hf_register_info hf[] = {
        {&hf_format,
         {"Format", "pdmv2.format", FT_STRING, BASE_NONE, NULL, 0,
          "pdm (RFC 8250), v2, v2-encrypted or v2-14 (draft -14)", HFILL}},
        {&hf_epoch,
         {"Epoch", "pdmv2.epoch", FT_UINT16, BASE_DEC, NULL, 0x0fff, "Draft -14: 12-bit epoch",
          HFILL}},
        {&hf_reserved,
         {"Reserved", "pdmv2.reserved", FT_UINT16, BASE_HEX, NULL, 0,
          "Draft -14: sent as 0, ignored on receipt", HFILL}},
        {&hf_version,
         {"Version", "pdmv2.version", FT_UINT8, BASE_DEC, NULL, 0xf0, "PDMv2 version nibble",
          HFILL}},
        {&hf_rn, {"Random number", "pdmv2.rn", FT_UINT16, BASE_DEC, NULL, 0xfffe, NULL, HFILL}},
        {&hf_f,
         {"F bit", "pdmv2.f", FT_UINT16, BASE_DEC, NULL, 0x0001,
          "Parity of the sender's key rotation index", HFILL}},
        {&hf_sealed,
         {"Ciphertext and tag", "pdmv2.sealed", FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL}},
        {&hf_auth,
         {"Authentication", "pdmv2.auth", FT_STRING, BASE_NONE, NULL, 0, "opened, failed or no key",
          HFILL}},
        {&hf_kri,
         {"Key rotation index", "pdmv2.kri", FT_UINT32, BASE_DEC, NULL, 0,
          "Kri the option opened under", HFILL}},
        {&hf_scale_dtlr,
         {"Scale DTLR", "pdmv2.scale_dtlr", FT_UINT8, BASE_DEC, NULL, 0, NULL, HFILL}},
        {&hf_scale_dtls,
         {"Scale DTLS", "pdmv2.scale_dtls", FT_UINT8, BASE_DEC, NULL, 0, NULL, HFILL}},
        {&hf_gp, {"Global pointer", "pdmv2.gp", FT_UINT32, BASE_DEC, NULL, 0, NULL, HFILL}},
        {&hf_psntp, {"PSN this packet", "pdmv2.psntp", FT_UINT32, BASE_DEC, NULL, 0, NULL, HFILL}},
        {&hf_psnlr,
         {"PSN last received", "pdmv2.psnlr", FT_UINT32, BASE_DEC, NULL, 0, NULL, HFILL}},
        {&hf_dtlr,
         {"Delta time last received", "pdmv2.delta_tlr", FT_UINT16, BASE_DEC, NULL, 0, "Raw field",
          HFILL}},
        {&hf_dtls,
         {"Delta time last sent", "pdmv2.delta_tls", FT_UINT16, BASE_DEC, NULL, 0, "Raw field",
          HFILL}},
        {&hf_dtlr_ns,
         {"Delta time last received (ns)", "pdmv2.delta_tlr_ns", FT_UINT64, BASE_DEC, NULL, 0,
          "DeltaTLR x 2^ScaleDTLR as, in ns", HFILL}},
        {&hf_dtls_ns,
         {"Delta time last sent (ns)", "pdmv2.delta_tls_ns", FT_UINT64, BASE_DEC, NULL, 0,
          "DeltaTLS x 2^ScaleDTLS as, in ns", HFILL}},
        {&hf_flow,
         {"Flow index", "pdmv2.flow", FT_UINT32, BASE_DEC, NULL, 0,
          "Flows in order of first PDM packet, from 0", HFILL}},
        {&hf_role,
         {"Sender role", "pdmv2.role", FT_STRING, BASE_NONE, NULL, 0,
          "client: first PDM sender of the flow", HFILL}},
        {&hf_server_delay,
         {"Server delay (ns)", "pdmv2.server_delay_ns", FT_UINT64, BASE_DEC, NULL, 0, NULL, HFILL}},
        {&hf_client_delay,
         {"Client delay (ns)", "pdmv2.client_delay_ns", FT_UINT64, BASE_DEC, NULL, 0, NULL, HFILL}},
        {&hf_rtd,
         {"Round-trip delay (ns)", "pdmv2.rtd_ns", FT_UINT64, BASE_DEC, NULL, 0, NULL, HFILL}},
        {&hf_psnlr_frame,
         {"PSNLR names frame", "pdmv2.psnlr_frame", FT_FRAMENUM, BASE_NONE,
          FRAMENUM_TYPE(FT_FRAMENUM_REQUEST), 0, "The peer's packet whose PSNTP is this PSNLR",
          HFILL}},
        {&hf_rtd_frame,
         {"Round trip paired with frame", "pdmv2.rtd_frame", FT_FRAMENUM, BASE_NONE,
          FRAMENUM_TYPE(FT_FRAMENUM_RESPONSE), 0,
          "The server packet whose DeltaTLR the round trip subtracts", HFILL}},
    };
    static ei_register_info ei[] = {
        {&ei_auth_failed,
         {"pdmv2.auth_failed", PI_DECRYPTION, PI_WARN,
          "Encrypted PDMv2 option opened under no key: contents not used", EXPFILL}},
        {&ei_no_key,
         {"pdmv2.no_key", PI_DECRYPTION, PI_NOTE, "No key log entry for this flow", EXPFILL}},
        {&ei_replayed,
         {"pdmv2.replayed", PI_SEQUENCE, PI_WARN,
          "Replayed option: its (Kri, RN) opened before; not used", EXPFILL}},
        {&ei_out_of_order,
         {"pdmv2.out_of_order", PI_SEQUENCE, PI_NOTE, "PSNTP behind the highest: deltas not used",
          EXPFILL}},
        {&ei_duplicate, {"pdmv2.duplicate", PI_SEQUENCE, PI_NOTE, "PSNTP seen before", EXPFILL}},
        {&ei_rtd_negative,
         {"pdmv2.rtd_negative", PI_SEQUENCE, PI_NOTE, "Round trip came out negative", EXPFILL}},
        {&ei_undecoded,
         {"pdmv2.undecoded", PI_MALFORMED, PI_WARN, "PDM option not decoded", EXPFILL}},
    };
    static gint *ett[] = {&ett_pdmv2};
    module_t *mod;

    proto_pdmv2 =
        proto_register_protocol("IPv6 Performance and Diagnostic Metrics v2", "PDMv2", "pdmv2");
    proto_register_field_array(proto_pdmv2, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    expert_register_field_array(expert_register_protocol(proto_pdmv2), ei, array_length(ei));
    mod = prefs_register_protocol(proto_pdmv2, NULL);
    prefs_register_filename_preference(
        mod, "keylog_file", "PDMv2 key log file",
        "openpdm key log (PDMV2_SECRET and PDMV2_PRIMARY lines) to open encrypted options",
        &pref_keylog, FALSE);
    register_init_routine(pdmv2_init);
    register_cleanup_routine(pdmv2_cleanup);
}

static void proto_reg_handoff_pdmv2(void)
{
    dissector_handle_t h = create_dissector_handle(dissect_pdmv2, proto_pdmv2);
    GArray *wanted = g_array_new(FALSE, FALSE, (guint)sizeof(int));

    hf_ipv6 = proto_registrar_get_id_byname("ipv6");
    g_array_append_val(wanted, hf_ipv6);
    register_postdissector(h);
    set_postdissector_wanted_hfids(h, wanted);
}

void plugin_register(void)
{
    static proto_plugin plug;

    plug.register_protoinfo = proto_register_pdmv2;
    plug.register_handoff = proto_reg_handoff_pdmv2;
    proto_register_plugin(&plug);
}
