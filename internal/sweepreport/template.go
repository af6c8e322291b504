package sweepreport

// pageHTML is the report's template. Everything is inline: CSS in <style>,
// the chart as <svg>; nothing is loaded from anywhere.
const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>embshrink sweep: {{.R.Model}}</title>
<style>
body { font-family: sans-serif; margin: 16px 20px; color: #1a1a1a; }
h1 { font-size: 20px; margin: 0 0 6px 0; }
h2 { font-size: 16px; margin: 22px 0 6px 0; }
.facts { margin: 0 0 10px 0; color: #333; font-size: 13px; }
.facts span { margin-right: 18px; }
svg.chart { width: 100%; max-width: 1160px; height: auto; display: block; }
svg text { font-family: sans-serif; font-size: 12px; fill: #1a1a1a; }
.plot { fill: #ffffff; stroke: #888888; }
.grid { stroke: #e4e4e4; }
.grid.major { stroke: #cccccc; }
.axis line { stroke: #444444; }
.axis text.title { font-size: 13px; font-weight: bold; }
.gate { stroke: #c00000; stroke-width: 1.5; stroke-dasharray: 6 4; }
text.gate-label { fill: #c00000; font-weight: bold; }
.original { stroke: #555555; stroke-width: 1; stroke-dasharray: 2 3; }
text.original-label { fill: #555555; }
.pareto { fill: none; stroke: #e8b020; stroke-width: 5; stroke-opacity: 0.4; stroke-linejoin: round; }
.curve { fill: none; stroke-width: 1.8; }
.point { stroke-width: 1.8; }
.recommended { fill: none; stroke: #111111; stroke-width: 2.5; }
text.label, text.gate-label, text.original-label { paint-order: stroke; stroke: #ffffff; stroke-width: 4px; stroke-linejoin: round; }
text.label.recommended { font-weight: bold; fill: #111111; }
.leader { stroke: #999999; stroke-width: 0.8; }
.legend-box { fill: #fafafa; stroke: #cccccc; }
text.empty { font-size: 15px; fill: #777777; }
table { border-collapse: collapse; font-size: 12px; margin-top: 6px; }
th, td { border: 1px solid #d0d0d0; padding: 3px 6px; text-align: right; vertical-align: top; }
th { font-size: 11px; }
th { background: #f0f0f0; }
td { white-space: nowrap; }
td.text, th.text { text-align: left; white-space: normal; }
tr.recommended td { background: #fff4cc; font-weight: bold; }
td.PASS { color: #006400; }
td.FAIL { color: #b00000; }
td.outputs { white-space: normal; font-size: 11px; min-width: 14em; }
td.note { min-width: 10em; max-width: 18em; }
table { max-width: 100%; }
#recommendation { margin-top: 18px; padding: 10px 14px; border: 1px solid #d8c068; background: #fffbea; }
#recommendation.none { border-color: #d08080; background: #fff0f0; }
code { font-family: monospace; font-size: 13px; }
pre { background: #f4f4f4; padding: 8px 10px; margin: 8px 0 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.generated { color: #777777; font-size: 12px; margin-top: 18px; }
</style>
</head>
<body>
<h1>embshrink sweep: {{.R.Model}}</h1>
<p class="facts">{{if .Original}}<span>original: {{.Original}} ({{.R.OriginalBytes}} bytes)</span>{{end}}{{if .R.Table}}<span>table: {{.R.Table}}{{if .R.TableShape}} {{.R.TableShape}}{{end}}</span>{{end}}{{if .R.GateText}}<span>gate: {{.R.GateText}}</span>{{end}}{{if .R.MeasuredOn}}<span>measured on {{.R.MeasuredOn}}</span>{{end}}<span>{{len .R.Points}} point{{if ne (len .R.Points) 1}}s{{end}}</span></p>
{{template "chart" .Chart}}
<h2>All points, by size</h2>
<table id="points">
<tr><th class="text">label</th><th class="text">kind</th><th>M</th><th>K</th><th>size</th><th>bytes</th><th>ratio</th><th>table error<br>(all rows)</th><th>weighted<br>error</th><th>readout<br>error</th><th>{{.FidelityName}}</th><th>gate</th><th>Pareto</th><th class="text">outputs</th><th>lookup<br>latency / RSS</th><th>decode<br>latency / RSS</th><th class="text">note</th></tr>
{{range .Rows}}<tr data-label="{{.Label}}"{{if .Recommended}} class="recommended"{{end}}><td class="text">{{.Label}}</td><td class="text">{{.Kind}}</td><td>{{.M}}</td><td>{{.K}}</td><td>{{.Size}}</td><td>{{.Bytes}}</td><td>{{.Ratio}}</td><td>{{.TableErr}}</td><td>{{.WeightedErr}}</td><td>{{.ReadoutErr}}</td><td>{{.Fidelity}}</td><td class="{{.Gate}}">{{.Gate}}</td><td>{{if .Pareto}}yes{{else}}-{{end}}</td><td class="text outputs">{{range .Outputs}}<div>{{.}}</div>{{else}}-{{end}}</td><td>{{.Lookup}}</td><td>{{.Decode}}</td><td class="text note">{{.Note}}</td></tr>
{{end}}</table>
{{if .Rec}}<div id="recommendation"><strong>Recommended: {{.Rec.Label}}</strong> — {{.Rec.Size}}, {{.Rec.Ratio}} smaller, {{.FidelityName}} {{.Rec.Fidelity}}, {{.Rec.Gate}}.{{if .R.Command}}
<pre><code>{{.R.Command}}</code></pre>{{end}}</div>
{{else}}<div id="recommendation" class="none"><strong>{{.Recommendation}}</strong>{{if .R.GateText}} ({{.R.GateText}}){{end}}.</div>
{{end}}{{if .R.Generated}}<p class="generated">{{.R.Generated}}</p>
{{end}}</body>
</html>
{{define "chart"}}<svg class="chart" viewBox="0 0 {{.W}} {{.H}}" width="{{.W}}" height="{{.H}}" role="img" aria-label="size against {{.YTitle}}">
<rect class="plot" x="{{.PlotX}}" y="{{.PlotY}}" width="{{.PlotW}}" height="{{.PlotH}}"/>
<g class="axis x">{{range .XTicks}}
<line class="grid{{if .Major}} major{{end}}" x1="{{.Pos}}" y1="{{$.PlotY}}" x2="{{.Pos}}" y2="{{$.PlotBot}}"/><line x1="{{.Pos}}" y1="{{$.PlotBot}}" x2="{{.Pos}}" y2="{{$.XTickEnd}}"/>{{if .Label}}<text x="{{.Pos}}" y="{{$.PlotBot}}" dy="20" text-anchor="middle">{{.Label}}</text>{{end}}{{end}}
<text class="title" x="{{.XTitleX}}" y="{{.XTitleY}}" text-anchor="middle">model file size (log scale)</text></g>
<g class="axis y">{{range .YTicks}}
<line class="grid major" x1="{{$.PlotX}}" y1="{{.Pos}}" x2="{{$.PlotRight}}" y2="{{.Pos}}"/><line x1="{{$.YTickStart}}" y1="{{.Pos}}" x2="{{$.PlotX}}" y2="{{.Pos}}"/><text x="{{$.PlotX}}" y="{{.Pos}}" dx="-8" dy="4" text-anchor="end">{{.Label}}</text>{{end}}
<text class="title" x="{{.YTitleX}}" y="{{.YTitleY}}" text-anchor="middle" transform="rotate(-90 {{.YTitleX}} {{.YTitleY}})">{{.YTitle}}</text></g>
{{if .Original}}<line class="{{.Original.Class}}" x1="{{.Original.X1}}" y1="{{.Original.Y1}}" x2="{{.Original.X2}}" y2="{{.Original.Y2}}"/><text class="{{.OriginalLabel.Class}}" x="{{.OriginalLabel.X}}" y="{{.OriginalLabel.Y}}" text-anchor="end">{{.OriginalLabel.Text}}</text>
{{end}}{{if .Gate}}<line class="gate" x1="{{.Gate.X1}}" y1="{{.Gate.Y1}}" x2="{{.Gate.X2}}" y2="{{.Gate.Y2}}"/><text class="gate-label" x="{{.GateLabel.X}}" y="{{.GateLabel.Y}}">{{.GateLabel.Text}}</text>
{{end}}{{if .Pareto}}<path class="pareto" d="{{.Pareto}}"/>
{{end}}{{range .Series}}<polyline class="curve" data-k="{{.K}}" stroke="{{.Colour}}" points="{{.Points}}"/>
{{end}}{{range .Leaders}}<line class="leader" x1="{{.X1}}" y1="{{.Y1}}" x2="{{.X2}}" y2="{{.Y2}}"/>
{{end}}{{range .Markers}}{{if .Diamond}}<path class="{{.Class}}" data-label="{{.Label}}" d="{{.D}}" fill="{{.Fill}}" stroke="{{.Stroke}}"><title>{{.Title}}</title></path>{{else}}<circle class="{{.Class}}" data-label="{{.Label}}" cx="{{.CX}}" cy="{{.CY}}" r="{{.R}}" fill="{{.Fill}}" stroke="{{.Stroke}}"><title>{{.Title}}</title></circle>{{end}}
{{end}}{{if .Ring}}<circle class="recommended" id="recommended-point" data-label="{{.Ring.Label}}" cx="{{.Ring.CX}}" cy="{{.Ring.CY}}" r="{{.Ring.R}}"/>
{{end}}{{range .Labels}}<text class="{{.Class}}" data-label="{{.Label}}" x="{{.X}}" y="{{.Y}}">{{.Text}}</text>
{{end}}{{if .Empty}}<text class="empty" x="{{.XTitleX}}" y="{{.YTitleY}}" text-anchor="middle">{{.Empty}}</text>
{{end}}{{template "legend" .}}</svg>
{{end}}{{define "legend"}}<g class="legend"><rect class="legend-box" x="{{.LegendX}}" y="{{.LegendBoxY}}" width="{{.LegendW}}" height="{{.LegendBoxH}}"/>
{{range .Legend}}<g class="legend-item">{{if eq .Glyph "curve"}}<line class="curve" x1="{{.GX0}}" y1="{{.GY}}" x2="{{.GX1}}" y2="{{.GY}}" stroke="{{.Colour}}"/><circle cx="{{.GXM}}" cy="{{.GY}}" r="4.5" fill="{{.Colour}}" stroke="{{.Colour}}"/>{{else if eq .Glyph "diamond"}}<path d="{{.D}}" fill="{{.Colour}}" stroke="{{.Colour}}"/>{{else if eq .Glyph "hollow"}}<circle cx="{{.GXM}}" cy="{{.GY}}" r="4.5" fill="#ffffff" stroke="{{.Colour}}" stroke-width="1.8"/>{{else if eq .Glyph "ring"}}<circle class="recommended" cx="{{.GXM}}" cy="{{.GY}}" r="8"/>{{else if eq .Glyph "pareto"}}<path class="pareto" d="{{.D}}"/>{{else if eq .Glyph "gate"}}<line class="gate" x1="{{.GX0}}" y1="{{.GY}}" x2="{{.GX1}}" y2="{{.GY}}"/>{{else if eq .Glyph "original"}}<line class="original" x1="{{.GXM}}" y1="{{.GY0}}" x2="{{.GXM}}" y2="{{.GY1}}"/>{{end}}<text x="{{.TX}}" y="{{.Y}}">{{.Text}}</text></g>
{{end}}</g>{{end}}`
