package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"sync"
	"time"
)

// procMem is what /proc/self/status says of the process's memory, in bytes. Anon is what the
// process allocated itself; File is mapped files (bbolt maps its whole database), which the kernel
// can drop under pressure, so a claim of bounded memory is about Anon and the Go heap.
type procMem struct {
	RSS, Anon, File, HWM uint64
}

// parseProcStatus reads VmRSS, RssAnon, RssFile and VmHWM (kB) from a /proc/PID/status text.
func parseProcStatus(b []byte) (procMem, error) {
	var m procMem
	fields := map[string]*uint64{"VmRSS:": &m.RSS, "RssAnon:": &m.Anon, "RssFile:": &m.File, "VmHWM:": &m.HWM}
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 2 {
			continue
		}
		p := fields[string(f[0])]
		if p == nil {
			continue
		}
		if len(f) != 3 || string(f[2]) != "kB" {
			return procMem{}, fmt.Errorf("proc status: %q: want a size in kB", sc.Text())
		}
		kb, err := strconv.ParseUint(string(f[1]), 10, 64)
		if err != nil {
			return procMem{}, fmt.Errorf("proc status: %q: %w", sc.Text(), err)
		}
		*p = kb << 10
		seen++
	}
	if seen != len(fields) {
		return procMem{}, fmt.Errorf("proc status: found %d of VmRSS, RssAnon, RssFile, VmHWM", seen)
	}
	return m, nil
}

func readProcMem() (procMem, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return procMem{}, err
	}
	return parseProcStatus(b)
}

// resetPeakRSS sets VmHWM back to the current RSS (Linux clear_refs 5), so the peak read after a
// phase is that phase's own; it reports whether the kernel allowed it.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// heapInUse is the Go heap's in-use spans (HeapInuse) without stopping the world.
func heapInUse() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	metrics.Read(s)
	var n uint64
	for _, v := range s {
		if v.Value.Kind() == metrics.KindUint64 {
			n += v.Value.Uint64()
		}
	}
	return n
}

// memPeak is the highest of each measure seen while a sampler ran.
type memPeak struct {
	Proc    procMem // field by field
	Heap    uint64
	Samples int
	Err     error // the first failure to read /proc, if any
}

// sampler reads the process's memory every interval until stopped.
type sampler struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	peak memPeak // guarded by mu
}

func startSampler(interval time.Duration) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.stop:
				s.sample()
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) sample() {
	m, err := readProcMem()
	h := heapInUse()
	s.mu.Lock()
	p := &s.peak
	p.Samples++
	if err != nil && p.Err == nil {
		p.Err = err
	}
	p.Proc.RSS, p.Proc.Anon = max(p.Proc.RSS, m.RSS), max(p.Proc.Anon, m.Anon)
	p.Proc.File, p.Proc.HWM = max(p.Proc.File, m.File), max(p.Proc.HWM, m.HWM)
	p.Heap = max(p.Heap, h)
	s.mu.Unlock()
}

// Stop ends sampling (after one last sample) and returns the peaks.
func (s *sampler) Stop() memPeak {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// mb formats bytes as megabytes (MiB) with one decimal.
func mb(b uint64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MB" }
