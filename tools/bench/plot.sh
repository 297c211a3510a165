#!/usr/bin/env bash
# The plots of one tools/bench/run.sh run, made with gnuplot (tools/setup.sh bench installs it), in its output
# directory: latency.png (one sandbox's ADD+DEL against how many run at a time, from latency.tsv) and
# portmap.png (adding one port mapping against how many are present, per backend, from portmap.tsv).
set -euo pipefail
dir="${1:?usage: tools/bench/plot.sh DIR (the directory tools/bench/run.sh wrote)}"
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot is missing (tools/setup.sh bench installs it)" >&2; exit 1; }

# What both plots share: the PNG terminal, the output file ($1), the title ($2), the y axis from 0 ($3 its label).
preamble() {
  printf 'set terminal pngcairo size 900,520 font "sans,11"\nset output "%s"\nset title "%s"\n' "$1" "$2"
  printf 'set ylabel "%s"\nset yrange [0:*]\nset key top left\nset grid ytics\n' "$3"
}

if [ -s "$dir/latency.tsv" ]; then
  {
    preamble "$dir/latency.png" "ADD+DEL of bridge + host-local + portmap + firewall + tuning, per sandbox" "milliseconds per sandbox (median, p10-p90)"
    cat <<EOF
set xlabel "sandboxes at a time"
set logscale x 2
set xtics (1, 2, 4, 8)
set xrange [0.8:10]
plot "< awk '\$2==\"floor\"' $dir/latency.tsv" using (\$1*0.96):3:4:5 with yerrorlines lw 2 pt 7 title "floor (plugins alone)", \
     "< awk '\$2==\"library\"' $dir/latency.tsv" using 1:3:4:5 with yerrorlines lw 2 pt 5 title "library", \
     "< awk '\$2==\"cnirt\"' $dir/latency.tsv" using (\$1*1.04):3:4:5 with yerrorlines lw 2 pt 9 title "cnirt (two processes)"
EOF
  } | gnuplot
  echo "$dir/latency.png"
fi

# portmap.tsv (from the portmap mode): backend, mappings present, add median p10 p90, remove median p10 p90.
if [ -s "$dir/portmap.tsv" ]; then
  {
    preamble "$dir/portmap.png" "Port mapping: one mapping added, against the mappings already present" "milliseconds to add one (median, p10-p90)"
    cat <<EOF
set xlabel "mappings already present"
set logscale y
set yrange [1:*]
set xtics ("0" 0, "100" 1, "1,000" 2, "10,000" 3)
set xrange [-0.3:3.3]
set datafile separator "\t"
plot "< awk -F'\t' '\$1==\"cnirt nftables\" {print i++ \"\t\" \$0}' $dir/portmap.tsv" using 1:4:5:6 with yerrorlines lw 2 pt 7 title "cnirt, nftables", \
     "< awk -F'\t' '\$1==\"cnirt iptables\" {print i++ \"\t\" \$0}' $dir/portmap.tsv" using (\$1+0.05):4:5:6 with yerrorlines lw 2 pt 5 title "cnirt, iptables", \
     "< awk -F'\t' '\$1 ~ /^portmap/ {print i++ \"\t\" \$0}' $dir/portmap.tsv" using (\$1+0.1):4:5:6 with yerrorlines lw 2 pt 9 title "portmap plugin (iptables)"
EOF
  } | gnuplot
  echo "$dir/portmap.png"
fi
