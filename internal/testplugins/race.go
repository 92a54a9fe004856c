//go:build race

package testplugins

// race is set in binaries built with the race detector, whose shadow memory
// follows the heap's peak and is never returned: RSS is not compared there.
const race = true
