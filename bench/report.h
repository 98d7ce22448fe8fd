/*
 * report: turns the JSON Lines file mcu-bench writes into the report an operator reads,
 * bench/results/<date>-<host>.md, with tables and PNG plots drawn by gnuplot.
 *
 * Input: one JSON object per line, told apart by "kind": machine, live, floor,
 * throughput, fanout, kernel, capacity, smoke. Numbers may be null when not measured;
 * they are shown as "—" and a target without its figure reads "not measured". Lines that
 * are not JSON objects, have an unknown kind, or are longer than 1 MiB are skipped and
 * counted in the report; at most 4096 records are read, the rest counted.
 *
 * Rounds: live and floor records may carry "round" (mcu-bench --round K). The 18-site
 * scenario's target 1 ratios are then taken between the records of one round and
 * judged on their median over the rounds, as are its delay and compose figures; the
 * side-by-side tables compare each row with the MCU and the floor of its own round.
 * Records without a round are round 0, one round.
 *
 * Output, all in the directory of md_path (for md_path "dir/2026-11-25-h.md"):
 *
 *   dir/2026-11-25-h.md                    the report
 *   dir/2026-11-25-h.gp                    gnuplot script, bare file names in it
 *   dir/2026-11-25-h-cpu-vs-sites.dat|png  CPU ms per output frame vs sites
 *   dir/2026-11-25-h-delay-cdf.dat|png     CDF of the MCU's added delay
 *   dir/2026-11-25-h-fanout.dat|png        CPU seconds per second vs receivers
 *
 * The .dat and .gp files stay so people can re-plot: cd dir && gnuplot 2026-11-25-h.gp.
 * The script picks the pngcairo terminal when gnuplot has it, else png (libgd). A plot
 * with no data gets no .dat and no PNG. gnuplot is found on PATH and waited for; when it
 * is missing or fails the report is still written and says why the plots are not there.
 *
 * OWNERSHIP: both paths are borrowed, read only during the call. Nothing stays
 * allocated after it returns.
 */
#ifndef MCU_BENCH_REPORT_H
#define MCU_BENCH_REPORT_H

/* Reads the JSON Lines file `jsonl`, writes the markdown report `md_path` and its plots
 * (PNG, named <md basename without .md>-<plot>.png, in the same directory as md_path)
 * by writing gnuplot scripts + data files into that directory and running gnuplot
 * (posix_spawnp "gnuplot", wait for it). A missing gnuplot is not fatal: the report
 * says the plots were not drawn. Returns 0 or a negative MCU_ERR_*; lines that are not
 * valid JSON or have an unknown kind are skipped and counted in the report.
 * MCU_ERR_INVAL: a NULL or empty path; MCU_ERR_TOO_BIG: a path too long for the files
 * derived from it; MCU_ERR_IO: `jsonl` unreadable or an output file not written;
 * MCU_ERR_NOMEM. The report replaces md_path atomically (written aside, then renamed). */
int mcu_bench_report(const char *jsonl, const char *md_path);

#endif
