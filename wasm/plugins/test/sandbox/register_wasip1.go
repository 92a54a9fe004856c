//go:build wasip1

package main

import (
	"strconv"
	"unsafe"

	"github.com/containerd/nri/pkg/api"
)

func init() {
	probes = []probe{
		{"SANDBOX_PREOPEN", preopen},
		{"SANDBOX_PATH_OPEN", openPasswd},
		{"SANDBOX_SOCK_ACCEPT", accept},
		{"SANDBOX_SOCK_SEND", send},
	}
	api.RegisterPlugin(&plugin{})
}

//go:wasmimport wasi_snapshot_preview1 fd_prestat_get
func fdPrestatGet(fd int32, prestat unsafe.Pointer) int32

//go:wasmimport wasi_snapshot_preview1 path_open
func pathOpen(dirfd, dirflags int32, path unsafe.Pointer, pathLen, oflags int32, rightsBase, rightsInheriting int64, fdflags int32, fd unsafe.Pointer) int32

//go:wasmimport wasi_snapshot_preview1 sock_accept
func sockAccept(fd, flags int32, newFd unsafe.Pointer) int32

//go:wasmimport wasi_snapshot_preview1 sock_send
func sockSend(fd int32, iovs unsafe.Pointer, iovsLen, flags int32, sent unsafe.Pointer) int32

// ebadf is WASI's errno for a file descriptor that is not open.
const ebadf = 8

func errno(n int32) string { return strconv.Itoa(int(n)) }

func preopen() string {
	var prestat [8]byte
	return errno(fdPrestatGet(3, unsafe.Pointer(&prestat)))
}

func openPasswd() string {
	path := []byte("etc/passwd")
	var fd int32
	const rightRead = 1 << 1 // fd_read
	return errno(pathOpen(3, 0, unsafe.Pointer(&path[0]), int32(len(path)), 0, rightRead, 0, 0, unsafe.Pointer(&fd)))
}

func accept() string {
	var fd int32
	for sock := int32(3); sock < 10; sock++ {
		if e := sockAccept(sock, 0, unsafe.Pointer(&fd)); e != ebadf {
			return errno(e)
		}
	}
	return errno(ebadf)
}

func send() string {
	var sent int32
	var iov [8]byte // one empty iovec
	return errno(sockSend(1, unsafe.Pointer(&iov), 1, 0, unsafe.Pointer(&sent)))
}
