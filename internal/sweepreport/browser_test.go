package sweepreport

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium finds the browser or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (exec.LookPath \"chromium\" failed); run scripts/install-chromium.sh to install Debian's chromium")
	}
	return path
}

// runChromium runs headless chromium on page with extra flags, in a fresh
// profile, and returns its stdout.
func runChromium(t *testing.T, bin, page string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}
	args = append(append(args, extra...), "file://"+page)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\nstderr:\n%s", extra, err, stderr.String())
	}
	return stdout.Bytes()
}

// TestBrowserRendersReport renders the realistic report in headless
// chromium: the screenshot must be a real picture and the rendered DOM
// must hold the axes, every point, the gate and the recommendation.
// SWEEPREPORT_SCREENSHOT=path keeps a copy of the screenshot.
func TestBrowserRendersReport(t *testing.T) {
	bin := chromium(t)
	r := realisticReport()
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "shot.png")
	runChromium(t, bin, page, "--screenshot="+shot, "--window-size=1200,1400", "--hide-scrollbars")
	checkScreenshot(t, shot)
	if keep := os.Getenv("SWEEPREPORT_SCREENSHOT"); keep != "" {
		data, _ := os.ReadFile(shot)
		if err := os.WriteFile(keep, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dom := string(runChromium(t, bin, page, "--dump-dom"))
	want := []string{`class="axis x"`, `class="axis y"`, `class="gate"`, `id="recommendation"`, `id="recommended-point"`}
	for _, p := range r.Points {
		want = append(want, `data-label="`+p.Label+`"`)
	}
	for _, w := range want {
		if !strings.Contains(dom, w) {
			t.Errorf("rendered DOM lacks %s", w)
		}
	}
	if !strings.Contains(dom, r.Command) {
		t.Errorf("rendered DOM lacks the command %q", r.Command)
	}
}

// checkScreenshot fails unless the file is a PNG with a fair share of
// non-white pixels in several colours.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	colours, nonWhite, total := countPixels(img)
	t.Logf("screenshot %v: %d colours, %d of %d pixels not white", img.Bounds().Size(), colours, nonWhite, total)
	if colours < 16 {
		t.Errorf("screenshot has %d distinct colours, want at least 16 (blank page?)", colours)
	}
	if nonWhite*100 < total {
		t.Errorf("screenshot has %d non-white pixels of %d, want at least 1%%", nonWhite, total)
	}
}

func countPixels(img image.Image) (colours, nonWhite, total int) {
	seen := map[[3]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				nonWhite++
			}
			total++
		}
	}
	return len(seen), nonWhite, total
}
