//go:build wasip1

package main

import "github.com/containerd/nri/pkg/api"

func init() { api.RegisterPlugin(plugin{}) }
