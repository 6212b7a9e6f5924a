#!/usr/bin/env bash
# Captures KVM TSC tracepoint text of real QEMU boots into $OUT, in the forms people send.
set -euo pipefail
OUT=${OUT:-/tmp/cap/out}
mkdir -p "$OUT"
T=/sys/kernel/tracing
I=$T/instances/labcap_$$
EVENTS="kvm_write_tsc_offset kvm_track_tsc kvm_update_master_clock kvm_pvclock_update"
QEMU="qemu-system-x86_64 -enable-kvm -m 64 -display none -monitor none -serial none -nodefaults"
old_tgid=$(cat $T/options/record-tgid); old_ctx=$(cat $T/options/context-info)
cleanup() {
  echo "$old_tgid" > $T/options/record-tgid; echo "$old_ctx" > $T/options/context-info
  if [ -d "$I" ]; then echo 0 > $I/tracing_on; for e in $EVENTS; do echo 0 > $I/events/kvm/$e/enable; done
    echo 0 > $I/events/sched/sched_process_exec/enable 2>/dev/null || true; rmdir "$I"; fi
}
trap cleanup EXIT
mkdir "$I"
start() { # $1 clock, $2 foreign(0/1)
  echo 0 > $I/tracing_on; echo > $I/trace; echo "$1" > $I/trace_clock
  for e in $EVENTS; do echo 1 > $I/events/kvm/$e/enable; done
  echo "${2:-0}" > $I/events/sched/sched_process_exec/enable
  echo 1 > $I/tracing_on
}
stop() { echo 0 > $I/tracing_on; cat $I/trace > "$1"; }
boot() { # $1 smp, extra args...
  local n=$1; shift; timeout -s TERM 1.5 $QEMU -smp "$n" "$@" || true; }

start local; boot 4; stop "$OUT/qemu-7.2-boot-4.trace"
echo 1 > $T/options/record-tgid; echo 1 > $I/options/record-tgid 2>/dev/null || true
start local; boot 4; stop "$OUT/qemu-7.2-boot-4-tgid.trace"
echo 0 > $T/options/record-tgid; echo 0 > $I/options/record-tgid 2>/dev/null || true
start x86-tsc; boot 4; stop "$OUT/qemu-7.2-boot-4-x86-tsc.trace"
echo 0 > $T/options/context-info; echo 0 > $I/options/context-info
start local; boot 2; stop "$OUT/qemu-7.2-boot-2-no-context.trace"
echo 1 > $T/options/context-info; echo 1 > $I/options/context-info
start local; boot 2 -name guest=lab,debug-threads=on; stop "$OUT/qemu-7.2-boot-2-debug-threads.trace"
start local 1; boot 2; stop "$OUT/qemu-7.2-boot-2-foreign.trace"
start local; (boot 2 &) ; sleep 0.05; boot 3; wait; sleep 0.2; stop "$OUT/two-qemus.trace"
# QMP system_reset 1.2 s after start
start x86-tsc
S=/tmp/cap/qmp.$$; rm -f $S
timeout -s TERM 3 $QEMU -smp 4 -qmp unix:$S,server=on,wait=off & QP=$!
sleep 1.2
python3 - "$S" <<'PY'
import socket,sys,json,time
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f=s.makefile('rw')
f.readline()
for c in ({"execute":"qmp_capabilities"},{"execute":"system_reset"}):
    f.write(json.dumps(c)+"\n"); f.flush(); f.readline()
PY
wait $QP || true
stop "$OUT/qemu-7.2-boot-4-reset-1.2s-x86-tsc.trace"
echo done
