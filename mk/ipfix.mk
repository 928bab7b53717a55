# IPFIX export (issue 12, tools/common/ipfix.c, docs/export.md): built on
# libfixbuf when pkg-config finds it; without it `--ipfix` says this build
# has no IPFIX export. glib's headers (libfixbuf's) as system headers, so
# that the strict warnings apply to our code only.
FIXBUF_OK := $(shell $(PKG_CONFIG) --exists libfixbuf 2>/dev/null && echo yes)
ifeq ($(FIXBUF_OK),yes)
FIXBUF_CFLAGS := -DPDM_HAVE_FIXBUF $(patsubst -I%,-isystem %,$(call pc_cflags,libfixbuf))
FIXBUF_LIBS := $(call pc_libs,libfixbuf)
$(BUILD)/tools/common/ipfix.o: CFLAGS += $(FIXBUF_CFLAGS)
TOOL_LIBS += $(FIXBUF_LIBS)
endif
