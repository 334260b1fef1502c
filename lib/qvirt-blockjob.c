/* qvirt-blockjob: concludes the block jobs QEMU has ended of one domain
 * (lib/blockjob.c). The domain's supervisor runs it on JOB_STATUS_CHANGE
 * "concluded", so a job whose starter is gone still ends with the live
 * XML and the config right; a library process that concludes first
 * leaves it nothing to do. */
#include "blockjob.h"

int main(int argc, char **argv)
{
    return qv_blockjob_helper_main(argc, argv);
}
