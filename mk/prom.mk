# `pdm agent --metrics` (tools/agent/metrics.c, docs/export.md): built with
# libmicrohttpd when pkg-config finds it; without it the agent still builds
# and refuses --metrics with a message saying why.
MHD_PKG := $(shell $(PKG_CONFIG) --exists libmicrohttpd 2>/dev/null && echo yes)
ifneq ($(MHD_PKG),)
$(BUILD)/tools/agent/metrics.o: CFLAGS_ALL += -DAGENT_HAVE_MHD $(call pc_cflags,libmicrohttpd)
TOOL_LIBS += $(call pc_libs,libmicrohttpd)
else
$(info prom.mk: no libmicrohttpd (libmicrohttpd-dev): pdm agent --metrics is left out)
endif
