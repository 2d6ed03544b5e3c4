// netload: the load client (and a reference Go echo server) for bench/net.py.
//
// Client: -conns connections each send a -size byte request and wait for the
// whole echo before the next one (closed loop).  After -warmup it measures for
// -duration: requests, latency percentiles, and the server's CPU time read from
// /proc/<-pid>/stat (all its threads) at the start and the end of the window.
// Prints one JSON line.
//
// Server (-serve): a plain Go echo server, for reference.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// cpuSplit: user and system clock ticks of every thread of pid.
func cpuSplit(pid int) (int64, int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	// fields after the command name, which is in parentheses and may hold spaces
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+2:])
	// f[0] is field 3 (state); utime is field 14, stime field 15
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut, st, nil
}

const clkTck = 100 // USER_HZ on Linux

func serve(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening %s\n", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, 65536)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
		}(c)
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "server address")
	conns := flag.Int("conns", 50, "connections")
	size := flag.Int("size", 64, "request size in bytes")
	dur := flag.Duration("duration", 10*time.Second, "measured time")
	warm := flag.Duration("warmup", 1*time.Second, "time before measuring")
	pid := flag.Int("pid", 0, "server pid, for its CPU time")
	srv := flag.Bool("serve", false, "run the reference Go echo server instead")
	flag.Parse()
	if *srv {
		serve(*addr)
		return
	}

	var measuring, stop atomic.Bool
	var wg sync.WaitGroup
	lats := make([][]int64, *conns)
	errs := make([]error, *conns)
	var ready sync.WaitGroup
	ready.Add(*conns)
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.Dial("tcp", *addr)
			ready.Done()
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Close()
			req := make([]byte, *size)
			for j := range req {
				req[j] = byte('a' + (i+j)%26)
			}
			resp := make([]byte, *size)
			l := make([]int64, 0, 1<<16)
			for !stop.Load() {
				t0 := time.Now()
				if _, err := c.Write(req); err != nil {
					errs[i] = err
					return
				}
				if _, err := io.ReadFull(c, resp); err != nil {
					errs[i] = err
					return
				}
				if measuring.Load() {
					l = append(l, int64(time.Since(t0)))
				}
				if resp[0] != req[0] || resp[*size-1] != req[*size-1] {
					errs[i] = fmt.Errorf("conn %d: bad echo", i)
					return
				}
			}
			lats[i] = l
		}(i)
	}
	ready.Wait()
	time.Sleep(*warm)
	var u0, s0 int64
	if *pid > 0 {
		u0, s0, _ = cpuSplit(*pid)
	}
	t0 := time.Now()
	measuring.Store(true)
	time.Sleep(*dur)
	measuring.Store(false)
	elapsed := time.Since(t0)
	var u1, s1 int64
	if *pid > 0 {
		u1, s1, _ = cpuSplit(*pid)
	}
	stop.Store(true)
	wg.Wait()
	var all []int64
	for _, l := range lats {
		all = append(all, l...)
	}
	nerr := 0
	first := ""
	for _, e := range errs {
		if e != nil {
			nerr++
			if first == "" {
				first = e.Error()
			}
		}
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		k := int(p * float64(len(all)-1))
		return float64(all[k]) / 1e3
	}
	n := len(all)
	cpuUs := float64(u1-u0+s1-s0) * 1e6 / clkTck
	out := map[string]any{
		"requests":     n,
		"seconds":      elapsed.Seconds(),
		"rps":          float64(n) / elapsed.Seconds(),
		"p50_us":       pct(0.50),
		"p99_us":       pct(0.99),
		"server_cpu_s": cpuUs / 1e6,
		"server_sys_s": float64(s1-s0) / clkTck,
		"errors":       nerr,
		"first_error":  first,
	}
	if n > 0 && *pid > 0 {
		out["cpu_us_per_req"] = cpuUs / float64(n)
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}
