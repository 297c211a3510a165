#!/usr/bin/env bash
# The plots of one tools/bench/run.sh run, made with gnuplot (tools/setup.sh bench installs it), in its output
# directory: latency.png (one sandbox's ADD+DEL against how many run at a time, from latency.tsv) and
# portmap.png (adding and removing one port mapping against how many are present, from the portmap output).
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

# The portmap mode prints rows like "  add    with 10,000 present   23.600   21.000   26.000 ms".
awk '/^ *(add|remove) +with +[0-9,]+ +present/ { n = $3; gsub(",", "", n); print n "\t" $1 "\t" $5 "\t" $6 "\t" $7 }' \
  "$dir/portmap.txt" 2>/dev/null > "$dir/portmap.tsv" || true
if [ -s "$dir/portmap.tsv" ]; then
  {
    preamble "$dir/portmap.png" "Port mapping (nftables): one mapping added and removed" "milliseconds (median, p10-p90)"
    cat <<EOF
set xlabel "mappings already present"
set offsets 0.5, 0.5, graph 0.1, 0
plot "< awk '\$2==\"add\"' $dir/portmap.tsv" using 0:3:4:5:xtic(1) with yerrorlines lw 2 pt 7 title "add", \
     "< awk '\$2==\"remove\"' $dir/portmap.tsv" using (\$0+0.08):3:4:5 with yerrorlines lw 2 pt 5 title "remove"
EOF
  } | gnuplot
  echo "$dir/portmap.png"
fi
