package main

// A minimal io_uring binding, written from include/uapi/linux/io_uring.h:
// raw io_uring_setup/enter/register system calls, the rings mapped with
// mmap, and a provided buffer ring (IORING_REGISTER_PBUF_RING). No liburing,
// no cgo.

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Setup flags (io_uring_params.flags).
const (
	setupCQSize       = 1 << 3
	setupSubmitAll    = 1 << 7
	setupCoopTaskrun  = 1 << 8
	setupTaskrunFlag  = 1 << 9
	setupSingleIssuer = 1 << 12
	setupDeferTaskrun = 1 << 13
	setupNoSQArray    = 1 << 16
)

const (
	featSingleMmap = 1 << 0
	featNodrop     = 1 << 1
)

// Opcodes.
const (
	opNop         = 0
	opAccept      = 13
	opAsyncCancel = 14
	opSend        = 26
	opRecv        = 27
)

// SQE flags.
const (
	sqeFixedFile   = 1 << 0
	sqeBufSelect   = 1 << 5
	sqeSkipSuccess = 1 << 6
)

// sqe.ioprio for accept and recv.
const (
	acceptMultishot = 1 << 0
	recvMultishot   = 1 << 1
)

// CQE flags.
const (
	cqeFBuffer      = 1 << 0
	cqeFMore        = 1 << 1
	cqeBufferShift  = 16
	enterGetEvents  = 1 << 0
	enterRegistered = 1 << 4
	sqNeedWakeup    = 1 << 0
	sqCQOverflow    = 1 << 1
	sqTaskrun       = 1 << 2
)

// io_uring_register opcodes.
const (
	registerRingFDs  = 20
	registerPbufRing = 22
)

const (
	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000
)

type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqringOffsets
	cqOff                                                                  cqringOffsets
}

type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32
	userData    uint64
	bufGroup    uint16
	personality uint16
	fileIndex   uint32
	addr3       uint64
	pad         uint64
}

type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

type bufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	resv        [3]uint64
}

type rsrcUpdate struct {
	offset uint32
	resv   uint32
	data   uint64
}

func init() {
	if unsafe.Sizeof(params{}) != 120 || unsafe.Sizeof(sqe{}) != 64 || unsafe.Sizeof(cqe{}) != 16 || unsafe.Sizeof(bufReg{}) != 40 {
		panic("io_uring struct sizes")
	}
}

type ring struct {
	fd       int
	enterFd  uintptr
	enterFlg uintptr
	flags    uint32
	features uint32

	sqMem, cqMem, sqeMem []byte

	sqHead, sqTail, sqFlags *uint32
	sqMask, sqEntries       uint32
	sqes                    []sqe
	tail                    uint32 // local SQ tail, published before enter

	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []cqe
}

// errSetup wraps a failure to set io_uring up, after which the caller falls
// back to epoll.
type errSetup struct {
	what string
	err  error
}

func (e *errSetup) Error() string { return fmt.Sprintf("io_uring %s: %v", e.what, e.err) }

func newRing(entries uint32, flags uint32, simFail bool) (*ring, error) {
	p := params{flags: flags | setupCQSize, cqEntries: entries * 4}
	if simFail {
		return nil, &errSetup{"setup", unix.EPERM}
	}
	fd, _, e := unix.RawSyscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, &errSetup{"setup", e}
	}
	r := &ring{fd: int(fd), enterFd: fd, flags: p.flags, features: p.features}
	if p.features&featSingleMmap == 0 || p.features&featNodrop == 0 {
		unix.Close(r.fd)
		return nil, &errSetup{"setup", fmt.Errorf("kernel too old (features %#x)", p.features)}
	}
	sqSize := uint32(0)
	if flags&setupNoSQArray == 0 {
		sqSize = p.sqOff.array + p.sqEntries*4
	}
	cqSize := p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(cqe{}))
	size := max(sqSize, cqSize)
	var err error
	r.sqMem, err = unix.Mmap(r.fd, offSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		unix.Close(r.fd)
		return nil, &errSetup{"mmap", err}
	}
	r.cqMem = r.sqMem
	r.sqeMem, err = unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*64, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		unix.Close(r.fd)
		return nil, &errSetup{"mmap", err}
	}
	u32 := func(mem []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }
	r.sqHead = u32(r.sqMem, p.sqOff.head)
	r.sqTail = u32(r.sqMem, p.sqOff.tail)
	r.sqFlags = u32(r.sqMem, p.sqOff.flags)
	r.sqMask = *u32(r.sqMem, p.sqOff.ringMask)
	r.sqEntries = p.sqEntries
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&r.sqeMem[0])), p.sqEntries)
	if flags&setupNoSQArray == 0 {
		arr := unsafe.Slice(u32(r.sqMem, p.sqOff.array), p.sqEntries)
		for i := range arr {
			arr[i] = uint32(i) // identity: SQE i is slot i
		}
	}
	r.tail = atomic.LoadUint32(r.sqTail)
	r.cqHead = u32(r.cqMem, p.cqOff.head)
	r.cqTail = u32(r.cqMem, p.cqOff.tail)
	r.cqMask = *u32(r.cqMem, p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&r.cqMem[p.cqOff.cqes])), p.cqEntries)
	return r, nil
}

// registerRing registers the ring's own fd so that io_uring_enter skips
// the fd table look-up.
func (r *ring) registerRing() error {
	u := rsrcUpdate{offset: ^uint32(0), data: uint64(r.fd)}
	_, _, e := unix.RawSyscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), registerRingFDs, uintptr(unsafe.Pointer(&u)), 1, 0, 0)
	if e != 0 {
		return e
	}
	r.enterFd = uintptr(u.offset)
	r.enterFlg = enterRegistered
	return nil
}

// getSQE returns a zeroed SQE, submitting what is queued if the SQ is full.
func (r *ring) getSQE() *sqe {
	for r.tail-atomic.LoadUint32(r.sqHead) >= r.sqEntries {
		if _, err := r.enter(0, true); err != nil {
			fmt.Fprintln(os.Stderr, "uringspike: flushing SQ:", err)
		}
	}
	s := &r.sqes[r.tail&r.sqMask]
	*s = sqe{}
	r.tail++
	return s
}

// pending is the number of SQEs queued and not yet consumed by the kernel.
func (r *ring) pending() uint32 { return r.tail - atomic.LoadUint32(r.sqHead) }

// enter publishes the SQ tail and calls io_uring_enter(pending, minComplete,
// GETEVENTS if minComplete > 0 or the ring defers its task work). With raw,
// the call is hidden from the Go scheduler (RawSyscall6) even when it
// blocks; otherwise a blocking call is a scheduler-visible system call.
func (r *ring) enter(minComplete uint32, raw bool) (int, error) {
	atomic.StoreUint32(r.sqTail, r.tail)
	toSubmit := r.pending()
	flags := r.enterFlg
	if minComplete > 0 || r.flags&setupDeferTaskrun != 0 {
		flags |= enterGetEvents
	}
	for {
		var n uintptr
		var e unix.Errno
		if minComplete == 0 || raw {
			n, _, e = unix.RawSyscall6(unix.SYS_IO_URING_ENTER, r.enterFd, uintptr(toSubmit), uintptr(minComplete), flags, 0, 0)
		} else {
			n, _, e = unix.Syscall6(unix.SYS_IO_URING_ENTER, r.enterFd, uintptr(toSubmit), uintptr(minComplete), flags, 0, 0)
		}
		switch e {
		case 0:
			return int(n), nil
		case unix.EINTR:
			// Interrupted (with raw, the runtime's preemption signal): what
			// was consumed is gone from the SQ; return and let the loop reap.
			return 0, nil
		case unix.EBUSY, unix.EAGAIN:
			// CQ overflowing: the caller must reap first.
			return 0, nil
		}
		return int(n), e
	}
}

// ready is the number of completions waiting in the CQ.
func (r *ring) ready() uint32 { return atomic.LoadUint32(r.cqTail) - *r.cqHead }

// bufRing is a provided buffer ring of n buffers of size bytes, group bgid.
type bufRing struct {
	mem    []byte // ring entries (io_uring_buf, 16 bytes each)
	bufs   []byte // buffer memory, outside the Go heap
	size   int
	mask   uint16
	tail   uint16
	bid0   uint16  // bufs[0].bid as last written (shares a word with the tail)
	tailW  *uint32 // the 32-bit word holding bufs[0].bid (low) and the tail (high)
	pushed bool
}

func (r *ring) newBufRing(n, size int, bgid uint16) (*bufRing, error) {
	pg := os.Getpagesize()
	ringBytes := (n*16 + pg - 1) / pg * pg
	mem, err := unix.Mmap(-1, 0, ringBytes, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANONYMOUS|unix.MAP_PRIVATE|unix.MAP_POPULATE)
	if err != nil {
		return nil, &errSetup{"buffer ring mmap", err}
	}
	bufs, err := unix.Mmap(-1, 0, n*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANONYMOUS|unix.MAP_PRIVATE|unix.MAP_POPULATE)
	if err != nil {
		return nil, &errSetup{"buffers mmap", err}
	}
	reg := bufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&mem[0]))), ringEntries: uint32(n), bgid: bgid}
	_, _, e := unix.RawSyscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), registerPbufRing, uintptr(unsafe.Pointer(&reg)), 1, 0, 0)
	if e != 0 {
		return nil, &errSetup{"register buffer ring", e}
	}
	b := &bufRing{mem: mem, bufs: bufs, size: size, mask: uint16(n - 1), tailW: (*uint32)(unsafe.Pointer(&mem[12]))}
	for i := 0; i < n; i++ {
		b.put(uint16(i))
	}
	b.publish()
	return b, nil
}

// buf returns buffer bid's first n bytes.
func (b *bufRing) buf(bid uint16, n int) []byte {
	off := int(bid) * b.size
	return b.bufs[off : off+n : off+b.size]
}

// put queues buffer bid for the kernel; publish makes the queued ones visible.
func (b *bufRing) put(bid uint16) {
	slot := b.tail & b.mask
	e := unsafe.Slice((*uint64)(unsafe.Pointer(&b.mem[int(slot)*16])), 2)
	e[0] = uint64(uintptr(unsafe.Pointer(&b.bufs[int(bid)*b.size])))
	// len (low 32 bits) and bid (next 16); the top 16 bits are resv, which for
	// slot 0 is the ring tail, kept as is.
	if slot == 0 {
		b.bid0 = bid
		w := (*uint32)(unsafe.Pointer(&b.mem[8]))
		*w = uint32(b.size)
		h := (*uint16)(unsafe.Pointer(&b.mem[12]))
		*h = bid
	} else {
		e[1] = uint64(uint32(b.size)) | uint64(bid)<<32
	}
	b.tail++
	b.pushed = true
}

func (b *bufRing) publish() {
	if !b.pushed {
		return
	}
	b.pushed = false
	atomic.StoreUint32(b.tailW, uint32(b.tail)<<16|uint32(b.bid0))
}
