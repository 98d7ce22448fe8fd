/* Configuration: the built-in scenario, a full file, and errors that name key and line. */
#include <arpa/inet.h>
#include <string.h>

#include "mcu/config.h"
#include "mcu/error.h"
#include "mcu/json_where.h"
#include "test_util.h"

static void builtin_scenario(void **state)
{
    mcu_config_t cfg;
    mcu_config_default(&cfg);
    assert_int_equal(cfg.n_sites, 18);
    assert_string_equal(cfg.sites[0].name, "Huyện Yên Mô");
    assert_string_equal(cfg.sites[4].name, "Khánh Thượng");
    assert_string_equal(cfg.sites[15].name, "Yên Thắng");
    assert_string_equal(cfg.sites[17].id, "yen-tu");
    for (int i = 0; i < 18; i++) {
        assert_int_equal(cfg.sites[i].rtp_port, 20000 + 4 * i);
        assert_int_equal(cfg.sites[i].audio_port, 20002 + 4 * i);
        assert_int_equal(cfg.sites[i].has_send_to, i == 0); /* the hall's monitor */
        assert_int_equal(cfg.sites[i].profile, 0);
    }
    assert_int_equal(cfg.n_profiles, 1);
    assert_int_equal(cfg.profiles[0].width, 1280);
    assert_int_equal(cfg.profiles[0].fps, 25);
    assert_int_equal(cfg.profiles[0].video_bps, 900000);
    assert_int_equal(cfg.profiles[0].audio_bps, 32000);
    assert_true(cfg.layout_auto);
}

static const char full[] =
    "{\n"
    "  \"conference\": {\"name\": \"Giao ban\", \"layout\": \"speaker1+5\", \"fit\": \"crop\"},\n"
    "  \"profiles\": [\n"
    "    {\"id\": \"main\", \"width\": 1280, \"height\": 720, \"fps\": 25, \"video_kbps\": 900},\n"
    "    {\"id\": \"low\", \"width\": 640, \"height\": 360, \"fps\": 15, \"video_kbps\": 350,\n"
    "     \"audio_kbps\": 24}\n"
    "  ],\n"
    "  \"sites\": [\n"
    "    {\"id\": \"yen-mo\", \"name\": \"Huyện Yên Mô\", \"rtp_port\": 30000, \"plain_rtp\": true},\n"
    "    {\"id\": \"yen-thang\", \"name\": \"Yên Thắng\", \"rtp_port\": 30010, \"rtcp_mux\": true,\n"
    "     \"srtp\": {\"suite\": \"AES_CM_128_HMAC_SHA1_32\",\n"
    "              \"key\": \"inline:Wn4XsjwDTmM1gR0p1PU7CbFn2oOv658Z+gqeG6tH\",\n"
    "              \"send_key\": \"6h8R5JYsjsCRGyYiIJjRjm8fvaunSMynUgegbHw+\"},\n"
    "     \"rtx_pt\": 97, \"max_kbps\": 800, \"max_pixels\": 921600,\n"
    "     \"audio_port\": 30011, \"source\": \"127.0.0.1\", \"profile\": \"low\",\n"
    "     \"send_to\": {\"address\": \"127.0.0.1\", \"video_port\": 5000}}\n"
    "  ],\n"
    "  \"log_level\": \"debug\",\n"
    "  \"io_batch_us\": 2000\n"
    "}\n";

static void full_file(void **state)
{
    mcu_config_t cfg;
    mcu_config_error_t err;
    int rc = mcu_config_parse(full, strlen(full), &cfg, &err);
    if (rc != MCU_OK)
        fail_msg("line %d %s: %s", err.line, err.key, err.message);
    assert_false(cfg.layout_auto);
    assert_int_equal(cfg.layout, MCU_LAYOUT_SPEAKER_1_5);
    assert_int_equal(cfg.fit, MCU_FIT_CROP);
    assert_int_equal(cfg.log_level, MCU_LOG_DEBUG);
    assert_int_equal(cfg.io_batch_us, 2000);
    assert_int_equal(cfg.n_profiles, 2);
    assert_int_equal(cfg.profiles[1].video_bps, 350000);
    assert_int_equal(cfg.profiles[1].audio_bps, 24000);
    assert_int_equal(cfg.profiles[0].keyint_ms, 4000);
    assert_int_equal(cfg.n_sites, 2);
    assert_int_equal(cfg.sites[0].audio_port, 30002);
    assert_int_equal(cfg.sites[0].profile, 0);
    const mcu_site_config_t *s = &cfg.sites[1];
    assert_true(s->rtcp_mux);
    assert_int_equal(s->audio_port, 30011);
    assert_int_equal(s->profile, 1);
    assert_true(s->has_source);
    assert_true(s->has_send_to);
    assert_int_equal(ntohs(s->send_video.sin_port), 5000);
    assert_int_equal(ntohs(s->send_audio.sin_port), 5002);
    assert_true(cfg.sites[0].plain_rtp);
    assert_false(s->plain_rtp);
    assert_int_equal(s->srtp_in.suite, MCU_SRTP_AES_CM_128_HMAC_SHA1_32);
    assert_int_equal(s->srtp_in.len, 30);
    assert_true(s->has_srtp_out);
    assert_int_equal(s->srtp_out.bytes[0], 0xea); /* base64 "6h8R" */
    assert_int_equal(s->rtx_pt, 97);
    assert_int_equal(s->max_bps, 800000);
    assert_int_equal(s->max_pixels, 921600);
    assert_int_equal(cfg.profiles[0].min_video_bps, 225000); /* 25% of 900 kbps */
}

typedef struct bad {
    const char *text;
    const char *key;
    int line;
} bad_t;

static void site_codecs(void **state)
{
    static const char text[] =
        "{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000, \"plain_rtp\": true,"
        " \"video_codec\": \"vp8\", \"audio_codec\": \"G722\", \"loss_policy\": \"freeze\","
        " \"max_freeze_ms\": 0},"
        " {\"id\": \"b\", \"name\": \"B\", \"rtp_port\": 30004, \"plain_rtp\": true,"
        " \"audio_codec\": \"PCMA\", \"audio_pt\": 101},"
        " {\"id\": \"c\", \"name\": \"C\", \"rtp_port\": 30008, \"plain_rtp\": true}]}";
    mcu_config_t cfg;
    mcu_config_error_t err;
    assert_int_equal(mcu_config_parse(text, strlen(text), &cfg, &err), MCU_OK);
    assert_int_equal(cfg.sites[0].video_codec, MCU_CODEC_VP8);
    assert_int_equal(cfg.sites[0].audio_codec, MCU_CODEC_G722);
    assert_int_equal(cfg.sites[0].audio_pt, 9); /* G.722's static type */
    assert_int_equal(cfg.sites[0].loss_policy, MCU_LOSS_FREEZE);
    assert_int_equal(cfg.sites[0].max_freeze_ms, 0);
    assert_int_equal(cfg.sites[1].audio_codec, MCU_CODEC_PCMA);
    assert_int_equal(cfg.sites[1].audio_pt, 101);
    assert_int_equal(cfg.sites[2].video_codec, MCU_CODEC_H264);
    assert_int_equal(cfg.sites[2].audio_codec, MCU_CODEC_OPUS);
    assert_int_equal(cfg.sites[2].audio_pt, MCU_DEFAULT_AUDIO_PT);
    assert_int_equal(cfg.sites[2].loss_policy, MCU_LOSS_CONCEAL);
    assert_int_equal(cfg.sites[2].max_freeze_ms, MCU_SITE_DEFAULT_MAX_FREEZE_MS);
}

static void errors_name_key_and_line(void **state)
{
    static const bad_t bad[] = {
        {"{\"sites\": [\n{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": \"x\"}]}", "sites[0].rtp_port", 2},
        {"{\"sites\": [\n{\"id\": \"a\", \"name\": \"A\",\n \"rtp_port\": 80, \"plain_rtp\": true}]}", "sites[0].rtp_port", 3},
        {"{\"sites\": [\n{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000, \"plain_rtp\": true,\n \"colour\": 1}]}",
         "sites[0].colour", 3},
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000, \"plain_rtp\": true},\n"
         "{\"id\": \"b\", \"name\": \"B\", \"rtp_port\": 30001, \"plain_rtp\": true}]}", "sites[1].rtp_port", 2},
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000, \"plain_rtp\": true},\n"
         "{\"id\": \"a\", \"name\": \"B\", \"rtp_port\": 30008, \"plain_rtp\": true}]}", "sites[1].id", 2},
        {"{\"sites\": [\n{\"id\": \"a\", \"rtp_port\": 30000, \"plain_rtp\": true}]}", "sites[0].name", 2},
        {"{\"sites\": [{\"id\": \"A B\", \"name\": \"A\", \"rtp_port\": 30000, \"plain_rtp\": true}]}", "sites[0].id", 1},
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000, \"plain_rtp\": true,\n\"profile\": \"hd\"}]}",
         "sites[0].profile", 2},
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000, \"plain_rtp\": true,\n"
         "\"source\": \"example.org\"}]}", "sites[0].source", 2},
        {"{\"profiles\": [{\"id\": \"main\",\n\"width\": 1281}],\n\"sites\": []}", "profiles[0].width", 2},
        {"{\"conference\": {\n\"layout\": \"grid7\"}, \"sites\": []}", "conference.layout", 2},
        {"{\"log_level\": \"loud\", \"sites\": []}", "log_level", 1},
        {"{\"sites\": [],\n\"io_batch_us\": 50000}", "io_batch_us", 2},
        {"{\n\"sites\": []}", "sites", 2},
        {"{\"conference\": {}}", "sites", 1},
        {"[1, 2]", "", 1},
        {"{\"control\": {\"listen\": \"0.0.0.0\",\n\"port\": 8080}, \"sites\": [{\"id\": \"a\", "
         "\"name\": \"A\", \"rtp_port\": 30000, \"plain_rtp\": true}]}", "control.token", 1},
        {"{\"control\": {\n\"token\": \"short\"}, \"sites\": []}", "control.token", 2},
        {"{\"control\": {\n\"token\": \"has a space in it, sadly\"}, \"sites\": []}",
         "control.token", 2},
        {"{\"control\": {\"port\": 70000}, \"sites\": []}", "control.port", 1},
        {"{\"speaker\": {\n\"hold_ms\": -5}, \"sites\": []}", "speaker.hold_ms", 2},
        {"{\"speaker\": {\"rolling_interval_ms\": 10}, \"sites\": []}",
         "speaker.rolling_interval_ms", 1},
        {"{\"speaker\": {\"flap\": true}, \"sites\": []}", "speaker.flap", 1},
        /* Security: SRTP unless plain RTP is asked for explicitly. */
        {"{\"sites\": [\n{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000}]}", "sites[0]", 2},
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000,\n\"plain_rtp\": true,"
         " \"srtp\": {\"key\": \"Wn4XsjwDTmM1gR0p1PU7CbFn2oOv658Z+gqeG6tH\"}}]}", "sites[0].plain_rtp", 2},
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000,\n\"srtp\": {\n"
         "\"key\": \"inline:c2hvcnQ=\"}}]}", "sites[0].srtp.key", 3},
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000,\n\"srtp\": {\n"
         "\"key\": \"inline:Wn4XsjwDTmM1gR0p1PU7CbFn2oOv658Z+gqeG6tH|2^31\"}}]}", "sites[0].srtp.key", 3},
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000,\n\"srtp\": {\n"
         "\"suite\": \"AES_CM_128_NULL\", \"key\": \"x\"}}]}", "sites[0].srtp.suite", 3},
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000,\n\"srtp\": {"
         "\"suite\": \"AEAD_AES_128_GCM\",\n\"key\": \"Wn4XsjwDTmM1gR0p1PU7CbFn2oOv658Z+gqeG6tH\"}}]}",
         "sites[0].srtp.key", 3},
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000,\n\"srtp\": {"
         "\"key\": \"Wn4XsjwDTmM1gR0p1PU7CbFn2oOv658Z+gqeG6tH\",\n"
         "\"send_key\": \"inline:Wn4XsjwDTmM1gR0p1PU7CbFn2oOv658Z+gqeG6tH\"}}]}", "sites[0].srtp.send_key", 3},
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000, \"plain_rtp\": true,\n"
         "\"rtx_pt\": 96}]}", "sites[0].rtx_pt", 2},
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000, \"plain_rtp\": true,\n"
         "\"max_kbps\": 10}]}", "sites[0].max_kbps", 2},
        {"{\"profiles\": [{\"id\": \"main\", \"video_kbps\": 500,\n\"min_video_kbps\": 600}],\n"
         "\"sites\": []}", "profiles[0].min_video_kbps", 2},
        /* Codecs: taken ones only, each on its media; static payload types are theirs. */
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000, \"plain_rtp\": true,\n"
         "\"video_codec\": \"H265\"}]}", "sites[0].video_codec", 2},
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000, \"plain_rtp\": true,\n"
         "\"video_codec\": \"opus\"}]}", "sites[0].video_codec", 2},
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000, \"plain_rtp\": true,\n"
         "\"audio_codec\": \"G729\"}]}", "sites[0].audio_codec", 2},
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000, \"plain_rtp\": true,\n"
         "\"audio_codec\": \"PCMU\", \"audio_pt\": 8}]}", "sites[0].audio_pt", 2},
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000, \"plain_rtp\": true,\n"
         "\"audio_pt\": 0}]}", "sites[0].audio_pt", 2},
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000, \"plain_rtp\": true,\n"
         "\"loss_policy\": \"smear\"}]}", "sites[0].loss_policy", 2},
        {"{\"sites\": [{\"id\": \"a\", \"name\": \"A\", \"rtp_port\": 30000, \"plain_rtp\": true,\n"
         "\"max_freeze_ms\": -1}]}", "sites[0].max_freeze_ms", 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mcu_config_t cfg;
        mcu_config_error_t err;
        int rc = mcu_config_parse(bad[i].text, strlen(bad[i].text), &cfg, &err);
        if (rc != MCU_ERR_CONFIG || strcmp(err.key, bad[i].key) != 0 || err.line != bad[i].line)
            fail_msg("case %zu: rc %d key '%s' line %d (%s); expected '%s' line %d", i, rc,
                     err.key, err.line, err.message, bad[i].key, bad[i].line);
        assert_true(err.message[0] != '\0');
    }
}

static void syntax_errors(void **state)
{
    mcu_config_t cfg;
    mcu_config_error_t err;
    const char *t = "{\n  \"sites\": [\n    {\"id\": \"a\",}\n  ]\n}";
    assert_int_equal(mcu_config_parse(t, strlen(t), &cfg, &err), MCU_ERR_CONFIG);
    assert_int_equal(err.line, 3);
    const char *dup = "{\"sites\": [],\n \"sites\": []}";
    assert_int_equal(mcu_config_parse(dup, strlen(dup), &cfg, &err), MCU_ERR_CONFIG);
    assert_int_equal(err.line, 2);
    assert_int_equal(mcu_config_load("/nonexistent/mcu.json", &cfg, &err), MCU_ERR_IO);
}

static void json_where_paths(void **state)
{
    const char *t = "{\"a\": {\"b\": [1,\n {\"c\": \"x\\\"y\"},\n 3]},\n\"d\": true}";
    size_t n = strlen(t);
    assert_int_equal(mcu_json_line_of(t, n, ""), 1);
    assert_int_equal(mcu_json_line_of(t, n, "a.b"), 1);
    assert_int_equal(mcu_json_line_of(t, n, "a.b[1].c"), 2);
    assert_int_equal(mcu_json_line_of(t, n, "a.b[2]"), 3);
    assert_int_equal(mcu_json_line_of(t, n, "d"), 4);
    assert_int_equal(mcu_json_line_of(t, n, "e"), 0);
    assert_int_equal(mcu_json_line_of("{\"a\":", 5, "b"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builtin_scenario), cmocka_unit_test(full_file),
        cmocka_unit_test(site_codecs),
        cmocka_unit_test(errors_name_key_and_line), cmocka_unit_test(syntax_errors),
        cmocka_unit_test(json_where_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
