#!/usr/bin/env bash
# tools/bench/plot.sh - PNG plots of benchmark results (gnuplot)
#
#   tools/bench/plot.sh [OUTDIR] [RESULTS.jsonl...]
#
# Defaults: docs/bench/ and docs/bench/results/*.jsonl. Writes
#   latency-cdf.png   S2 reload latency (update's server-side time to the
#                     controller's write), CDF per configuration and scale,
#                     zoomed on 0.9-2 s; latency-cdf-log.png: full range
#   latency-time.png  S2 latency against time into the churn, per scale
#   rss-scale.png     RSS after the initial sync (S1) against scale
# Installs gnuplot-nox with apt-get when gnuplot is missing.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/docs/bench}
shift || true
files=("$@")
[ ${#files[@]} -gt 0 ] || files=("$root"/docs/bench/results/*.jsonl)
if ! command -v gnuplot >/dev/null; then
    echo "plot: installing gnuplot-nox" >&2
    if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq gnuplot-nox >/dev/null
    else sudo apt-get install -y -qq gnuplot-nox >/dev/null; fi
fi
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$root/tools/bench/bench.py" plotdata "$tmp" "${files[@]}"

# Latency CDF: one curve per (configuration, scale).
plots=()
while read -r f label scale; do
    [ -n "$f" ] || continue
    plots+=("'$f' using 1:2 with steps lw 2 title '$label, $scale'")
done <"$tmp/lat.index"
if [ ${#plots[@]} -gt 0 ]; then
    gnuplot <<GP
set terminal pngcairo noenhanced size 900,560 font ",11"
set output '$out/latency-cdf.png'
set title "S2: reload latency at 20 updates/s, 1 s coalescing window (zoom on 0.9-2 s)"
set xlabel "latency: source update's server time -> controller's write (ms)"
set ylabel "fraction of reloads"
set grid
set key bottom right
set xrange [900:2000]
set yrange [0:1.02]
set arrow from 1050,0 to 1050,1.02 nohead dt 2 lc rgb "red"
set label "window + 50 ms" at 1055,0.05 tc rgb "red"
plot $(IFS=,; echo "${plots[*]}")
GP
    gnuplot <<GP
set terminal pngcairo noenhanced size 900,560 font ",11"
set output '$out/latency-cdf-log.png'
set title "S2: reload latency at 20 updates/s, every configuration (log scale)"
set xlabel "latency: source update's server time -> controller's write (ms, log scale)"
set ylabel "fraction of reloads"
set logscale x
set grid
set key top left
set yrange [0:1.02]
plot $(IFS=,; echo "${plots[*]}")
GP
fi

# Latency over time: one series per (configuration, scale), run 1.
plots=()
while read -r f label scale; do
    [ -n "$f" ] || continue
    plots+=("'$f' using 1:2 with points pt 7 ps 0.4 title '$label, $scale'")
done <"$tmp/series.index"
if [ ${#plots[@]} -gt 0 ]; then
    gnuplot <<GP
set terminal pngcairo noenhanced size 900,560 font ",11"
set output '$out/latency-time.png'
set title "S2: reload latency against time into the churn (first run of each)"
set xlabel "seconds since the first update"
set ylabel "latency (ms, log scale)"
set logscale y
set grid
set key top left
plot $(IFS=,; echo "${plots[*]}")
GP
fi

# RSS against scale.
plots=()
while read -r f label; do
    [ -n "$f" ] || continue
    plots+=("'$f' using 1:2:3:4 with yerrorlines lw 2 pt 7 title '$label: RSS after S1 (median, min-max)'")
    plots+=("'$f' using 1:2:(sprintf('%d cached', \$5)) with labels offset 0,1.2 notitle")
done <"$tmp/rss.index"
if [ ${#plots[@]} -gt 0 ]; then
    gnuplot <<GP
set terminal pngcairo noenhanced size 900,560 font ",11"
set output '$out/rss-scale.png'
set title "RSS after the initial sync against cluster size"
set xlabel "objects in the cluster (ConfigMaps + Secrets + workloads, log scale)"
set ylabel "RSS (MiB)"
set logscale x
set xrange [500:100000]
set yrange [0:*]
set grid
set key top left
plot $(IFS=,; echo "${plots[*]}"), 128 with lines dt 2 lc rgb "red" title "target at large scale: 128 MiB"
GP
fi
ls -1 "$out"/*.png 2>/dev/null || true
