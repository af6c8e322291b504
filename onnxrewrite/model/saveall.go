package model

import (
	"context"
	"fmt"
	"path/filepath"
)

// SaveItem is one model of SaveAll: where it goes and how.
type SaveItem struct {
	Model *Model
	Path  string
	Opts  SaveOptions
}

// SaveAll saves several models as one: every model's temporary files are
// written and checked (each item's Check) first, and only when all passed
// are they renamed into place. If any fails, nothing is renamed and every
// temporary file is removed. Two items may not write the same file.
func SaveAll(ctx context.Context, items []SaveItem) error {
	seen := map[string]string{}
	for _, it := range items {
		data := it.Opts.DataFile
		if data == "" {
			data = filepath.Base(it.Path) + ".data"
		}
		for _, p := range []string{filepath.Clean(it.Path), filepath.Join(filepath.Dir(it.Path), data)} {
			if prev, ok := seen[p]; ok {
				return fmt.Errorf("%s: written by both %s and %s", p, prev, it.Path)
			}
			seen[p] = it.Path
		}
	}
	states := make([]*saveState, 0, len(items))
	defer func() {
		for _, st := range states {
			st.cleanup()
		}
	}()
	for _, it := range items {
		st, err := it.Model.prepareSave(ctx, it.Path, it.Opts)
		states = append(states, st)
		if err != nil {
			return err
		}
	}
	// The last moment to stop: once the renames start, they finish.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save interrupted: %w", err)
	}
	for _, st := range states {
		if err := st.commit(); err != nil {
			return err
		}
	}
	return nil
}
