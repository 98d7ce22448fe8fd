#include "mcu/site_limits.h"

#include <linux/sock_diag.h>
#include <sys/socket.h>

#include "codecs/h264_rtp.h"
#include "mcu/error.h"

int64_t mcu_site_limits_burst_bytes(const mcu_site_config_t *cfg)
{
    int64_t burst = cfg->max_pixels / MCU_SITE_KEYFRAME_PIXELS_PER_BYTE;
    int64_t half_second = (int64_t)cfg->max_bps / 8 / 2;
    return half_second > burst ? half_second : burst;
}

static int64_t burst_packets(int64_t bytes)
{
    return (bytes + MCU_SITE_BURST_PAYLOAD - 1) / MCU_SITE_BURST_PAYLOAD;
}

int64_t mcu_site_limits_rcvbuf(const mcu_site_config_t *cfg)
{
    int64_t need = burst_packets(mcu_site_limits_burst_bytes(cfg)) * MCU_SITE_DATAGRAM_TRUESIZE;
    return need < MCU_SITE_RCVBUF_MIN_BYTES ? MCU_SITE_RCVBUF_MIN_BYTES : need;
}

void mcu_site_limits_jitter(const mcu_site_config_t *cfg, mcu_jitter_config_t *jc)
{
    mcu_jitter_config_video(jc, MCU_H264_CLOCK_RATE);
    int64_t wait = (int64_t)cfg->max_bps / 8 * MCU_JITTER_DEFAULT_MAX_DELAY_MS / 1000;
    int64_t bytes = mcu_site_limits_burst_bytes(cfg) + wait;
    int64_t packets = burst_packets(bytes);
    if (packets > jc->max_packets)
        jc->max_packets = packets > MCU_JITTER_MAX_PACKETS ? MCU_JITTER_MAX_PACKETS
                                                           : (uint32_t)packets;
    if (bytes > (int64_t)jc->max_bytes)
        jc->max_bytes = (size_t)bytes;
}

int mcu_site_limits_set_rcvbuf(int fd, int64_t need, int *got)
{
    int ask = (int)(need / 2);
    socklen_t len = sizeof *got;
    *got = 0;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &ask, sizeof ask);
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, got, &len) == 0 && *got >= need)
        return MCU_OK;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &ask, sizeof ask);
    len = sizeof *got;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, got, &len) == 0 && *got >= need)
        return MCU_OK;
    return MCU_ERR_NOSPACE;
}

int mcu_site_limits_kernel_drops(int fd, uint64_t *drops)
{
    uint32_t mi[SK_MEMINFO_VARS];
    socklen_t len = sizeof mi;
    if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mi, &len) != 0 ||
        len < (socklen_t)sizeof mi[0] * (SK_MEMINFO_DROPS + 1))
        return MCU_ERR_IO;
    *drops = mi[SK_MEMINFO_DROPS];
    return MCU_OK;
}
