// Package sim is a container runtime for the demo and the tests: containerd's
// own NRI library (pkg/adaptation) serving a real socket, in front of a
// bookkeeping of pods and containers instead of real ones. Plugins connect to
// it exactly as to containerd, and what it returns for each event is what
// containerd would apply.
package sim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/containerd/nri/pkg/adaptation"
	"github.com/containerd/nri/pkg/api"
	"google.golang.org/protobuf/proto"
)

// ErrRuntime is wrapped by errors of the runtime itself, as opposed to the
// errors its plugins returned.
var ErrRuntime = errors.New("sim: runtime")

// Runtime is a running simulated runtime.
type Runtime struct {
	socket     string
	proxy      *proxy // nil unless restartable
	pluginPath string // executables the runtime launches, NN-name
	configPath string // their configs, NN-name.conf

	mu      sync.Mutex
	nri     *adaptation.Adaptation
	pods    []*api.PodSandbox
	ctrs    []*api.Container
	serial  int
	plugins int
	changed chan struct{} // closed and replaced when plugins changes
	gen     int           // counts starts and stops: counts of a stopped pkg/adaptation are stale
}

// Option configures a Runtime.
type Option func(*Runtime)

// Restartable puts a relay in front of pkg/adaptation so that Restart can
// drop every plugin connection, as a runtime that exits does. pkg/adaptation
// alone leaves external plugins connected when it is stopped.
func Restartable() Option { return func(r *Runtime) { r.proxy = &proxy{} } }

// Launching makes the runtime start the executables named NN-name in
// pluginPath when it starts, handing each its config from configPath, as
// containerd does with plugin_path and plugin_config_path.
func Launching(pluginPath, configPath string) Option {
	return func(r *Runtime) { r.pluginPath, r.configPath = pluginPath, configPath }
}

// Start serves NRI on socket. The directory is created if needed.
func Start(socket string, opts ...Option) (*Runtime, error) {
	r := &Runtime{socket: socket, changed: make(chan struct{})}
	for _, o := range opts {
		o(r)
	}
	if err := os.MkdirAll(filepath.Dir(socket), 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRuntime, err)
	}
	listen := socket
	if r.proxy != nil {
		listen = socket + ".runtime"
		if err := r.proxy.listen(socket, listen); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRuntime, err)
		}
	}
	if err := r.start(listen); err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

func (r *Runtime) start(socket string) error {
	pluginPath, configPath := r.pluginPath, r.configPath
	if pluginPath == "" {
		// Not the runtime's default /opt/nri/plugins of the host.
		pluginPath = filepath.Join(filepath.Dir(socket), "no-plugins")
		configPath = pluginPath
	}
	gen := r.nextGen()
	nri, err := adaptation.New("nriwasm-sim", "v1", r.sync, r.update,
		adaptation.WithSocketPath(socket),
		adaptation.WithPluginPath(pluginPath),
		adaptation.WithPluginConfigPath(configPath),
		adaptation.WithMetrics(metrics{r, gen}))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRuntime, err)
	}
	if err := nri.Start(); err != nil {
		return fmt.Errorf("%w: %w", ErrRuntime, err)
	}
	r.mu.Lock()
	r.nri = nri
	r.mu.Unlock()
	return nil
}

// Socket is the path plugins connect to.
func (r *Runtime) Socket() string { return r.socket }

// Stop stops serving; with Restartable, plugin connections are dropped.
func (r *Runtime) Stop() {
	r.stopAdaptation()
	if r.proxy != nil {
		r.proxy.close()
	}
}

// Restart stops the runtime, dropping every plugin connection, and starts it
// again on the same socket with the same pods and containers, as a runtime
// restarted by its service manager. It needs Restartable.
func (r *Runtime) Restart() error {
	if r.proxy == nil {
		return fmt.Errorf("%w: Restart needs the Restartable option", ErrRuntime)
	}
	r.stopAdaptation()
	r.proxy.drop()
	return r.start(r.proxy.target)
}

func (r *Runtime) stopAdaptation() {
	r.mu.Lock()
	nri := r.nri
	r.nri = nil
	r.mu.Unlock()
	if nri != nil {
		nri.Stop()
	}
	r.setPlugins(r.nextGen(), 0)
}

// nextGen starts a generation of pkg/adaptation: counts that earlier ones
// report are stale.
func (r *Runtime) nextGen() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	return r.gen
}

// Plugins is the number of plugins registered and synchronized.
func (r *Runtime) Plugins() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.plugins
}

// WaitPlugins waits until at least n plugins are registered and synchronized
// (and so receive every later event).
func (r *Runtime) WaitPlugins(ctx context.Context, n int) error {
	for {
		r.mu.Lock()
		have, changed := r.plugins, r.changed
		r.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%w: %d of %d plugins registered: %w", ErrRuntime, have, n, ctx.Err())
		}
	}
}

// setPlugins records the count a pkg/adaptation of generation gen reports;
// a stopped one may still report after it stopped (a request in flight
// removes its closed plugins), and is ignored.
func (r *Runtime) setPlugins(gen, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if gen != r.gen {
		return
	}
	r.plugins = n
	close(r.changed)
	r.changed = make(chan struct{})
}

// metrics learns from pkg/adaptation when a plugin has joined: it reports
// the count only once the plugin is synchronized and receives events.
type metrics struct {
	r   *Runtime
	gen int
}

func (metrics) RecordPluginInvocation(string, string, error)                                      {}
func (metrics) RecordPluginLatency(string, string, time.Duration)                                 {}
func (metrics) RecordPluginAdjustments(string, string, *adaptation.ContainerAdjustment, int, int) {}
func (m metrics) UpdatePluginCount(n int)                                                         { m.r.setPlugins(m.gen, n) }

// sync is the runtime's SyncFn: a plugin that joins sees every pod and
// container.
func (r *Runtime) sync(ctx context.Context, cb adaptation.SyncCB) error {
	r.mu.Lock()
	pods := cloneAll(r.pods)
	ctrs := cloneAll(r.ctrs)
	r.mu.Unlock()
	_, err := cb(ctx, pods, ctrs)
	return err
}

// update is the runtime's UpdateFn: unsolicited updates are accepted.
func (r *Runtime) update(context.Context, []*api.ContainerUpdate) ([]*api.ContainerUpdate, error) {
	return nil, nil
}

func cloneAll[T proto.Message](in []T) []T {
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = proto.Clone(v).(T)
	}
	return out
}

// NewPod returns a pod with a fresh ID, ready for RunPodSandbox.
func (r *Runtime) NewPod(name, namespace, uid string, labels, annotations map[string]string) *api.PodSandbox {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.serial++
	if uid == "" {
		uid = fmt.Sprintf("uid-%04d", r.serial)
	}
	return &api.PodSandbox{
		Id: fmt.Sprintf("pod-%04d", r.serial), Name: name, Namespace: namespace, Uid: uid,
		Labels: labels, Annotations: annotations,
		Linux: &api.LinuxPodSandbox{CgroupParent: "/kubepods/pod" + uid},
	}
}

// NewContainer returns a container of pod with a fresh ID, ready for
// CreateContainer.
func (r *Runtime) NewContainer(pod *api.PodSandbox, name string, args, env []string, labels, annotations map[string]string) *api.Container {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.serial++
	return &api.Container{
		Id: fmt.Sprintf("ctr-%04d", r.serial), PodSandboxId: pod.GetId(), Name: name,
		Args: args, Env: env, Labels: labels, Annotations: annotations,
	}
}

// Pods and Containers list what the runtime holds, as it would synchronize
// a plugin with.
func (r *Runtime) Pods() []*api.PodSandbox {
	r.mu.Lock()
	defer r.mu.Unlock()
	return cloneAll(r.pods)
}

// Containers lists the runtime's containers.
func (r *Runtime) Containers() []*api.Container {
	r.mu.Lock()
	defer r.mu.Unlock()
	return cloneAll(r.ctrs)
}

// Add puts pods and containers in the runtime's state without events, as if
// they existed before it started: plugins see them at Synchronize.
func (r *Runtime) Add(pods []*api.PodSandbox, ctrs []*api.Container) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pods = append(r.pods, pods...)
	r.ctrs = append(r.ctrs, ctrs...)
}

func (r *Runtime) adaptation() (*adaptation.Adaptation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nri == nil {
		return nil, fmt.Errorf("%w: stopped", ErrRuntime)
	}
	return r.nri, nil
}

// setPod records pod (a new one or a new version); remove drops it.
func (r *Runtime) setPod(pod *api.PodSandbox, remove bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pods = slices.DeleteFunc(r.pods, func(p *api.PodSandbox) bool { return p.GetId() == pod.GetId() })
	if !remove {
		r.pods = append(r.pods, proto.Clone(pod).(*api.PodSandbox))
	}
}

func (r *Runtime) setContainer(ctr *api.Container, remove bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ctrs = slices.DeleteFunc(r.ctrs, func(c *api.Container) bool { return c.GetId() == ctr.GetId() })
	if !remove {
		r.ctrs = append(r.ctrs, proto.Clone(ctr).(*api.Container))
	}
}
