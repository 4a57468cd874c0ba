package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuMicros is the CPU time (user + system, all threads) of process pid ("self" for this one) in microseconds,
// from /proc/<pid>/stat (USER_HZ = 100).
func cpuMicros(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		fail(err)
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 * 1e6
}

// fail prints err and ends the process with status 1.
func fail(err any) {
	fmt.Fprintln(os.Stderr, "bench/go:", err)
	os.Exit(1)
}

// watchdog ends the process with an error once d has passed, whatever it is doing.
func watchdog(mode string, d time.Duration) {
	time.AfterFunc(d, func() { fail(fmt.Sprintf("-mode %s did not finish in %v", mode, d)) })
}
