# Chart of bench/run's per-round ratios: one bar per headline row of the table (throughput,
# server CPU cost, memory per idle connection), at the median of the per-round ratios, with
# the min-max spread as an error bar. Only same-round ratios are meaningful: the host's
# speed drifts by tens of percent within an hour.
# usage: gnuplot -e "datafile='D-ratios.tsv'; outfile='D-ratios.png'; pair1='lighttpd/nginx'; \
#                    pair2=''; subtitle='...'" bench/plot.gp
# datafile columns (tab-separated): label, pair (e.g. updcache/nginx), median, min, max.
# The y axis is logarithmic, so 2x and 0.5x sit the same distance from 1. Throughput above
# 1 means the first server is faster; CPU and memory above 1 mean it costs more.
if (!exists("datafile")) datafile = 'ratios.tsv'
if (!exists("outfile")) outfile = 'ratios.png'
if (!exists("subtitle")) subtitle = ''
if (!exists("pair1")) pair1 = ''
if (!exists("pair2")) pair2 = ''

set terminal pngcairo size 1400,800 font 'sans,10'
set output outfile
set datafile separator "\t"
set title "bench/run: ratios (median of per-round ratios; bars: min-max over rounds)\n".subtitle noenhanced
set logscale y 2
set grid ytics
set ylabel 'ratio (log scale)'
set xtics rotate by -45 left nomirror noenhanced
set key top left noenhanced opaque
set style fill solid 0.6 border -1
set bmargin 16
set rmargin 18
set offsets 0, 0, graph 0.06, graph 0.02  # room above the tallest bar
set xrange [-0.6:*]

blue = 0x4477aa
red = 0xcc6677
color(p) = (p eq pair1 ? blue : red)
# With two pairs each row has two bars side by side (colour = pair, see the key); only
# the first of them carries the row's label.
label(l, p) = (p eq pair1 ? l : '')

plot 1 with lines lc rgb 'black' dt 2 notitle, \
     datafile using 0:3:(0.7):(color(strcol(2))):xtic(label(strcol(1), strcol(2))) with boxes lc rgb variable notitle, \
     '' using 0:3:4:5 with yerrorbars lc rgb 'black' pt 0 notitle, \
     NaN with boxes lc rgb blue title pair1, \
     (pair2 eq '' ? NaN : NaN) with boxes lc rgb red title (pair2 eq '' ? '' : pair2)
