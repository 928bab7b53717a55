# tests/flood_gen: the packet generator of tests/it_flood.sh (not a unit test).
FLOOD_GEN := $(BUILD)/tests/flood_gen
ALL_EXTRA += $(FLOOD_GEN)
$(FLOOD_GEN): $(BUILD)/tests/flood_gen.o
	$(Q)$(CC) $(LDFLAGS_SAN) $^ -o $@
