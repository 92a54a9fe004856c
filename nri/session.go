package nri

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/net/multiplex"
	nriversion "github.com/containerd/nri/pkg/version"
	"github.com/containerd/ttrpc"
)

// session is one connection to the runtime: the multiplexed socket that
// carries the Plugin service (the runtime calls us) and the Runtime service
// (we call it), as in containerd/nri's pkg/stub. It is set up by hand rather
// than through pkg/stub so that requests and the guest's responses are
// relayed unchanged and a connection lost at any point is noticed (see
// RATIONALE.md).
type session struct {
	mux     multiplex.Mux
	server  *ttrpc.Server
	client  *ttrpc.Client
	runtime api.RuntimeService
	done    chan struct{} // closed once the connection is gone
	once    sync.Once
}

// openSession serves svc on conn and registers name and index with the
// runtime. conn is owned by the session from then on.
func openSession(ctx context.Context, conn net.Conn, svc api.PluginService, name, index string, timeout time.Duration) (s *session, err error) {
	s = &session{mux: multiplex.Multiplex(conn), done: make(chan struct{})}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	listener, err := s.mux.Listen(multiplex.PluginServiceConn)
	if err != nil {
		return s, fmt.Errorf("multiplexing the plugin service: %w", err)
	}
	if s.server, err = ttrpc.NewServer(); err != nil {
		return s, fmt.Errorf("creating the ttrpc server: %w", err)
	}
	api.RegisterPluginService(s.server, svc)
	runtimeConn, err := s.mux.Open(multiplex.RuntimeServiceConn)
	if err != nil {
		return s, fmt.Errorf("multiplexing the runtime service: %w", err)
	}
	s.client = ttrpc.NewClient(runtimeConn, ttrpc.WithOnClose(s.lost))
	s.runtime = api.NewRuntimeClient(s.client)
	go func() {
		// Serve returns when the server is closed or the connection fails.
		_ = s.server.Serve(context.WithoutCancel(ctx), listener)
		s.lost()
	}()
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err = s.runtime.RegisterPlugin(rctx, &api.RegisterPluginRequest{
		PluginName: name,
		PluginIdx:  index,
		NRIVersion: nriversion.GetFromBuildInfo(),
	})
	if err != nil {
		return s, fmt.Errorf("registering as %s-%s: %w", index, name, err)
	}
	return s, nil
}

func (s *session) lost() { s.once.Do(func() { close(s.done) }) }

// close tears the connection down; it is idempotent.
func (s *session) close() {
	if s.server != nil {
		_ = s.server.Close()
	}
	if s.client != nil {
		_ = s.client.Close()
	}
	_ = s.mux.Close()
	s.lost()
}
