/* pdm option encode|decode: placeholder until the codec lands. */
#include "tools.h"

int cmd_option(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    tool_err("option: not implemented yet");
    return 1;
}
