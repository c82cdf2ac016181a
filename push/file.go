package push

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/report"
)

// File writes the report to a file in one of the report formats (json,
// csv, md), replacing it atomically: readers see the old file or the new
// one, never a part.
type File struct {
	path, format string
}

// NewFile returns a file target.
func NewFile(path, format string) (*File, error) {
	switch format {
	case "json", "csv", "md":
	default:
		return nil, fmt.Errorf("file target %s: format %q is not one of json, csv, md", path, format)
	}
	if path == "" {
		return nil, errors.New("file target: path is empty")
	}
	return &File{path: path, format: format}, nil
}

// Key implements Target.
func (f *File) Key() string { return "file:" + f.path }

// Render implements Target.
func (f *File) Render(rep pmsync.Report) (Payload, error) {
	var buf bytes.Buffer
	if err := report.Write(&buf, rep, f.format); err != nil {
		return Payload{}, fmt.Errorf("render %s for file %s: %w", f.format, f.path, err)
	}
	ct := map[string]string{"json": "application/json", "csv": "text/csv", "md": "text/markdown"}[f.format]
	return Payload{Where: "write " + f.path, ContentType: ct, Body: buf.Bytes()}, nil
}

// Send implements Target: it writes a temporary file beside the target,
// flushes it to disk, renames it over the target and flushes the
// directory, so that a crash leaves the old report or the new one.
func (f *File) Send(ctx context.Context, rep pmsync.Report) (string, error) {
	p, err := f.Render(rep)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("write %s: %w", f.path, err)
	}
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", f.path, err)
	}
	done := false
	defer func() {
		if !done {
			_ = os.Remove(tmp.Name()) // the error that got us here matters more
		}
	}()
	if _, err := tmp.Write(p.Body); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write %s: %w", f.path, err)
	}
	// Portfolio figures are the organisation's own: readable by the
	// service's group, not the world.
	if err := tmp.Chmod(0o640); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write %s: %w", f.path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write %s: flush: %w", f.path, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", f.path, err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return "", fmt.Errorf("write %s: %w", f.path, err)
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // not every file system can flush a directory; the rename stands
		d.Close()
	}
	return f.path, nil
}
