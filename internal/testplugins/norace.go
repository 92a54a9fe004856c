//go:build !race

package testplugins

const race = false
