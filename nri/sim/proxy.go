package sim

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
)

// proxy relays the public socket to pkg/adaptation's, so that a restart can
// drop the connections of plugins as the exit of a runtime process does.
type proxy struct {
	target string

	mu       sync.Mutex
	listener net.Listener
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

func (p *proxy) listen(socket, target string) error {
	_ = os.Remove(socket)
	l, err := net.Listen("unix", socket)
	if err != nil {
		return err
	}
	p.target, p.listener, p.conns = target, l, map[net.Conn]struct{}{}
	p.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.relay(c) })
		}
	})
	return nil
}

func (p *proxy) relay(c net.Conn) {
	t, err := net.Dial("unix", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, t) {
		return
	}
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// One side is gone: the other must see the connection end too.
		dst.Close()
		src.Close()
	}
	wg.Go(func() { pipe(t, c) })
	wg.Go(func() { pipe(c, t) })
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, t)
	p.mu.Unlock()
}

// track registers a relayed pair, or closes it if the proxy is closed.
func (p *proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

// drop closes every relayed connection; new ones are still accepted.
func (p *proxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// close stops accepting, drops every connection and waits for the relays.
func (p *proxy) close() {
	p.mu.Lock()
	l := p.listener
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	if l != nil {
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return
		}
	}
	p.wg.Wait()
}
