// Command udpfloor measures the floor under an SNMP agent's CPU per varbind on this
// machine: what a UDP server that does nothing but answer costs per request, with a
// client that behaves like snmpbulkwalk (one request in flight, some work between
// answers). bench/run prints it next to the agents, in the same run.
//
//	udpfloor -serve                          a Go echo server: prints its port, then answers
//	                                         every datagram with -size bytes
//	udpfloor [-n 20000] [-size 1100] [-think 100us] [-per 25] -- SERVER [ARGS...]
//	                                         starts SERVER (it prints its UDP port on its first
//	                                         line), sends it -n 60-byte requests one at a time,
//	                                         busy for -think after each answer, and prints the
//	                                         server's CPU (utime+stime from /proc) per request
//	                                         and per varbind (-per varbinds per answer)
//
// The answers' size (1100 bytes) is that of a 25-varbind GETBULK answer of vmgate's
// tables; the think time is about what snmpbulkwalk spends decoding and printing one.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("udpfloor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	serve := fs.Bool("serve", false, "be the Go echo server")
	n := fs.Int("n", 20000, "requests measured (after 1000 of warm-up)")
	size := fs.Int("size", 1100, "answer size in bytes (server)")
	think := fs.Duration("think", 100*time.Microsecond, "client work between an answer and the next request")
	per := fs.Int("per", 25, "varbinds per answer, for the per-varbind figure")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *serve {
		return echo(*size, stdout, stderr)
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "udpfloor: no server command")
		return 2
	}
	res, err := measure(fs.Args(), *n, *think)
	if err != nil {
		fmt.Fprintln(stderr, "udpfloor:", err)
		return 1
	}
	fmt.Fprintf(stdout, "requests=%d cpu_us_per_request=%.1f cpu_us_per_varbind=%.2f wall_us_per_request=%.1f\n",
		*n, res.cpuPerReq, res.cpuPerReq/float64(*per), res.wallPerReq)
	return 0
}

// echo answers every datagram with size bytes until its stdin closes.
func echo(size int, stdout, stderr io.Writer) int {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(stderr, "udpfloor:", err)
		return 1
	}
	fmt.Fprintln(stdout, pc.LocalAddr().(*net.UDPAddr).Port)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		pc.Close()
	}()
	buf, answer := make([]byte, 65536), make([]byte, size)
	for {
		_, from, err := pc.ReadFrom(buf)
		if err != nil {
			return 0
		}
		pc.WriteTo(answer, from)
	}
}

type result struct{ cpuPerReq, wallPerReq float64 }

func measure(server []string, n int, think time.Duration) (result, error) {
	cmd := exec.Command(server[0], server[1:]...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe() // closing it ends the server
	if err != nil {
		return result{}, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return result{}, err
	}
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	defer func() { // closing stdin ends the server; kill it if it has not ended in a second
		in.Close()
		t := time.AfterFunc(time.Second, func() { cmd.Process.Kill() })
		cmd.Wait()
		t.Stop()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return result{}, fmt.Errorf("server printed no port: %w", err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return result{}, fmt.Errorf("server printed %q, not a port", line)
	}
	c, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return result{}, err
	}
	defer c.Close()
	req, buf := make([]byte, 60), make([]byte, 65536)
	cycle := func() error {
		if _, err := c.Write(req); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(buf); err != nil {
			return err
		}
		for end := time.Now().Add(think); time.Now().Before(end); { // busy, like a client decoding and printing
		}
		return nil
	}
	for range 1000 {
		if err := cycle(); err != nil {
			return result{}, err
		}
	}
	c0, err := cpuOf(cmd.Process.Pid)
	if err != nil {
		return result{}, err
	}
	t0 := time.Now()
	for range n {
		if err := cycle(); err != nil {
			return result{}, err
		}
	}
	wall := time.Since(t0)
	c1, err := cpuOf(cmd.Process.Pid)
	if err != nil {
		return result{}, err
	}
	return result{cpuPerReq: float64((c1 - c0).Microseconds()) / float64(n),
		wallPerReq: float64(wall.Microseconds()) / float64(n)}, nil
}

// cpuOf is utime+stime of pid from /proc/PID/stat, in clock ticks of 10 ms (USER_HZ is
// 100 on Linux).
func cpuOf(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	return time.Duration(u+st) * 10 * time.Millisecond, nil
}
