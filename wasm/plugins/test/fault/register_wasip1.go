//go:build wasip1

package main

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/containerd/nri/pkg/api"
)

func init() {
	var id [8]byte
	rand.Read(id[:]) // never fails (Go 1.24+)
	api.RegisterPlugin(&plugin{instance: fmt.Sprintf("%016x", binary.BigEndian.Uint64(id[:]))})
}
