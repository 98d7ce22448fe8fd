# Plots of 2026-12-07-vm.md. Re-plot from this directory: gnuplot 2026-12-07-vm.gp
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo noenhanced size 960,600
} else {
    set terminal png noenhanced size 960,600
}

reset
set grid
set key below
set output '2026-12-07-vm-cpu-vs-sites.png'
set title 'CPU ms per output frame vs sites'
set xlabel 'sites'
set ylabel 'CPU ms per output frame'
set xrange [0:*]
set yrange [0:*]
plot '2026-12-07-vm-cpu-vs-sites.dat' index 0 with linespoints title 'mcu 360p25->720p25', \
     '2026-12-07-vm-cpu-vs-sites.dat' index 1 with linespoints title 'ffmpeg 360p25->720p25', \
     '2026-12-07-vm-cpu-vs-sites.dat' index 2 with linespoints title 'gstreamer 360p25->720p25', \
     '2026-12-07-vm-cpu-vs-sites.dat' index 3 with linespoints title 'mcu 540p25->720p25', \
     '2026-12-07-vm-cpu-vs-sites.dat' index 4 with linespoints title 'mcu 720p30->720p30', \
     '2026-12-07-vm-cpu-vs-sites.dat' index 5 with linespoints title 'ffmpeg 720p30->720p30', \
     '2026-12-07-vm-cpu-vs-sites.dat' index 6 with linespoints title 'gstreamer 720p30->720p30', \
     '2026-12-07-vm-cpu-vs-sites.dat' index 7 with linespoints title 'mcu 720p30->360p30', \
     '2026-12-07-vm-cpu-vs-sites.dat' index 8 with linespoints title 'mcu 360p25->360p25'

reset
set grid
set key below
set output '2026-12-07-vm-delay-cdf.png'
set title 'Added delay of the MCU (CDF)'
set xlabel 'added delay, ms'
set ylabel 'fraction of frames'
set key inside right bottom
set xrange [0:*]
set yrange [0:1]
set arrow 1 from 35, graph 0 to 35, graph 1 nohead dashtype 2
set arrow 2 from 60, graph 0 to 60, graph 1 nohead dashtype 2
set label 1 'p50 target' at 35, graph 0.95 left offset 0.5,0
set label 2 'p99 target' at 60, graph 0.88 left offset 0.5,0
plot '2026-12-07-vm-delay-cdf.dat' index 0 with lines linewidth 2 title '18 x 360p25->720p25 (60 s)', \
     '2026-12-07-vm-delay-cdf.dat' index 1 with lines linewidth 2 title '18 x 360p25->720p25 (60 s)', \
     '2026-12-07-vm-delay-cdf.dat' index 2 with lines linewidth 2 title '18 x 360p25->720p25 (60 s)', \
     '2026-12-07-vm-delay-cdf.dat' index 3 with lines linewidth 2 title '18 x 540p25->720p25 (60 s)', \
     '2026-12-07-vm-delay-cdf.dat' index 4 with lines linewidth 2 title '18 x 720p30->720p30 (60 s)', \
     '2026-12-07-vm-delay-cdf.dat' index 5 with lines linewidth 2 title '20 x 720p30->720p30 (60 s)', \
     '2026-12-07-vm-delay-cdf.dat' index 6 with lines linewidth 2 title '30 x 720p30->720p30 (60 s)', \
     '2026-12-07-vm-delay-cdf.dat' index 7 with lines linewidth 2 title '25 x 720p30->720p30 (60 s)', \
     '2026-12-07-vm-delay-cdf.dat' index 8 with lines linewidth 2 title '27 x 720p30->720p30 (60 s)', \
     '2026-12-07-vm-delay-cdf.dat' index 9 with lines linewidth 2 title '60 x 360p25->720p25 (60 s)', \
     '2026-12-07-vm-delay-cdf.dat' index 10 with lines linewidth 2 title '64 x 360p25->720p25 (60 s)', \
     '2026-12-07-vm-delay-cdf.dat' index 11 with lines linewidth 2 title '20 x 720p30->360p30 (60 s)', \
     '2026-12-07-vm-delay-cdf.dat' index 12 with lines linewidth 2 title '30 x 720p30->360p30 (60 s)', \
     '2026-12-07-vm-delay-cdf.dat' index 13 with lines linewidth 2 title '25 x 720p30->360p30 (60 s)', \
     '2026-12-07-vm-delay-cdf.dat' index 14 with lines linewidth 2 title '22 x 720p30->360p30 (60 s)', \
     '2026-12-07-vm-delay-cdf.dat' index 15 with lines linewidth 2 title '60 x 360p25->360p25 (60 s)', \
     '2026-12-07-vm-delay-cdf.dat' index 16 with lines linewidth 2 title '64 x 360p25->360p25 (60 s)'

reset
set grid
set key below
set output '2026-12-07-vm-fanout.png'
set title 'Fan-out: CPU seconds per second vs receivers'
set xlabel 'receivers'
set ylabel 'CPU seconds per second'
set xrange [0:*]
set yrange [0:1.2<*]
plot '2026-12-07-vm-fanout.dat' index 0 with linespoints title 'SRTP protect + send', \
     1 with lines dashtype 2 linewidth 2 linecolor rgb 'red' title '1 core'

unset output
