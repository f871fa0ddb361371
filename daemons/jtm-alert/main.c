/* jtm-alert: waiting-list spike alerts. `jtm-alert detect ...` runs the detector on a CSV series. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "detect.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "detect") == 0)
        return jtm_alert_detect_main(argc - 1, argv + 1, stdin, stdout, stderr);
    if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
        printf("jtm-alert %s\n", JTM_VERSION);
        return JTM_EXIT_OK;
    }
    fprintf(stderr, "usage: jtm-alert detect --method C1|C2|C3 ... < series.csv\n");
    return JTM_EXIT_USAGE;
}
