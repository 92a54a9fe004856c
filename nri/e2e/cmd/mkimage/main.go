// Command mkimage packs a root filesystem directory into a single-layer OCI
// image archive that `ctr images import` accepts, so the e2e suite needs no
// registry. The output is reproducible: entries are sorted, owned by root and
// dated at the Unix epoch.
//
//	mkimage -rootfs DIR -name REF -out FILE.tar [-entrypoint a,b] [-cmd a,b]
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

const (
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

var (
	errUsage = errors.New("mkimage: -rootfs, -name and -out are required")
	errName  = errors.New("mkimage: -name must be REPOSITORY:TAG")
	epoch    = time.Unix(0, 0).UTC()
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// image accumulates content-addressed blobs.
type image map[string][]byte

func (im image) add(mediaType string, b []byte) descriptor {
	d := descriptor{MediaType: mediaType, Digest: digest(b), Size: int64(len(b))}
	im[strings.TrimPrefix(d.Digest, "sha256:")] = b
	return d
}

func (im image) addJSON(mediaType string, v any) (descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return descriptor{}, fmt.Errorf("mkimage: encode %s: %w", mediaType, err)
	}
	return im.add(mediaType, b), nil
}

func digest(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func main() {
	rootfs := flag.String("rootfs", "", "root filesystem directory")
	name := flag.String("name", "", "image reference REPOSITORY:TAG")
	out := flag.String("out", "", "output OCI archive")
	entrypoint := flag.String("entrypoint", "", "comma-separated Entrypoint")
	cmd := flag.String("cmd", "", "comma-separated Cmd")
	flag.Parse()
	if err := run(*rootfs, *name, *out, list(*entrypoint), list(*cmd)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(rootfs, name, out string, entrypoint, cmd []string) error {
	if rootfs == "" || name == "" || out == "" {
		return errUsage
	}
	colon := strings.LastIndex(name, ":")
	if colon <= 0 || colon == len(name)-1 || strings.Contains(name[colon:], "/") {
		return fmt.Errorf("%w, got %q", errName, name)
	}
	layer, err := layerTar(rootfs)
	if err != nil {
		return err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(layer); err != nil {
		return fmt.Errorf("mkimage: compress layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("mkimage: compress layer: %w", err)
	}

	im := image{}
	config, err := im.addJSON(mediaConfig, map[string]any{
		"created":      epoch.Format(time.RFC3339),
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config": map[string]any{
			"Env":        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"Entrypoint": entrypoint,
			"Cmd":        cmd,
			"WorkingDir": "/",
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{digest(layer)}},
	})
	if err != nil {
		return err
	}
	manifest, err := im.addJSON(mediaManifest, map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaManifest,
		"config":        config,
		"layers":        []descriptor{im.add(mediaLayer, gz.Bytes())},
	})
	if err != nil {
		return err
	}
	manifest.Annotations = map[string]string{
		"io.containerd.image.name":          name,
		"org.opencontainers.image.ref.name": name[colon+1:],
	}
	manifest.Platform = &platform{Architecture: runtime.GOARCH, OS: "linux"}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaIndex,
		"manifests":     []descriptor{manifest},
	})
	if err != nil {
		return fmt.Errorf("mkimage: encode index: %w", err)
	}
	return writeArchive(out, index, im)
}

// layerTar returns root as an uncompressed tar stream.
func layerTar(root string) ([]byte, error) {
	var paths []string
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err == nil && p != root {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mkimage: read rootfs: %w", err)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		if err := addPath(tw, root, p); err != nil {
			return nil, fmt.Errorf("mkimage: add %s: %w", p, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("mkimage: finish layer: %w", err)
	}
	return buf.Bytes(), nil
}

func addPath(tw *tar.Writer, root, p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	var link string
	if fi.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return err
	}
	hdr.Name = filepath.ToSlash(rel)
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "root", "root"
	hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = epoch, time.Time{}, time.Time{}
	hdr.Format = tar.FormatPAX
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	_, err = tw.Write(b)
	return err
}

// entry is one member of the archive; a name ending in "/" is a directory.
type entry struct {
	name string
	data []byte
}

// writeArchive writes the OCI image layout (oci-layout, index.json, blobs) as
// a tar file.
func writeArchive(out string, index []byte, im image) error {
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("mkimage: %w", err)
	}
	tw := tar.NewWriter(f)
	entries := []entry{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
		{"blobs/", nil},
		{"blobs/sha256/", nil},
	}
	keys := make([]string, 0, len(im))
	for k := range im {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		entries = append(entries, entry{"blobs/sha256/" + k, im[k]})
	}
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), ModTime: epoch, Typeflag: tar.TypeReg}
		if strings.HasSuffix(e.name, "/") {
			hdr.Mode, hdr.Typeflag = 0o755, tar.TypeDir
		}
		if err = tw.WriteHeader(hdr); err != nil {
			break
		}
		if _, err = tw.Write(e.data); err != nil {
			break
		}
	}
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mkimage: write %s: %w", out, err)
	}
	return nil
}
