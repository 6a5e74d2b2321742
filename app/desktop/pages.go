package desktop

import (
	"html/template"
	"net/http"
)

// The shell's own pages (first-start chooser, server away). They are
// bilingual (zh-CN first, like the console's default) and need no script.

const pageStyle = `<style>
body{margin:0;font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;background:#f0f2f5;color:#303133}
.card{max-width:560px;margin:8vh auto;background:#fff;border-radius:8px;box-shadow:0 2px 12px rgba(0,0,0,.1);padding:32px 40px}
h1{font-size:22px;margin:0 0 4px;color:#1f4e8c}.en{color:#909399;font-size:13px}
fieldset{border:1px solid #dcdfe6;border-radius:6px;margin:16px 0;padding:12px 16px}
legend{font-weight:600;padding:0 6px}label{display:block;margin:6px 0}
input[type=text]{width:100%;box-sizing:border-box;padding:8px;border:1px solid #dcdfe6;border-radius:4px;font-size:14px}
button{background:#1f4e8c;color:#fff;border:0;border-radius:4px;padding:10px 24px;font-size:15px;cursor:pointer}
.err{background:#fef0f0;color:#f56c6c;padding:8px 12px;border-radius:4px}
.away{border-top:4px solid #f56c6c}a{color:#1f4e8c}
</style>`

var choosePage = template.Must(template.New("choose").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>一网统管 · 选择运行方式</title>` + pageStyle + `</head>
<body><div class="card">
<h1>一网统管 桌面版 · 首次启动</h1><div class="en">yiwang desktop · first start: choose how this PC runs</div>
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
<form method="post" action="/__yw/desktop/choose">
<fieldset><legend><label><input type="radio" name="mode" value="standalone" {{if ne .Mode "client"}}checked{{end}}> 单机模式 <span class="en">Standalone</span></label></legend>
<div>整个平台运行在本机：数据保存在本机，传感器通过局域网连接本机的 MQTT 服务。</div>
<div class="en">The whole server runs on this PC: data stays here, sensors on the LAN publish to this PC's MQTT broker.</div>
</fieldset>
<fieldset><legend><label><input type="radio" name="mode" value="client" {{if eq .Mode "client"}}checked{{end}}> 客户端模式 <span class="en">Client</span></label></legend>
<div>连接县级服务器（地址由管理员提供）。<span class="en">Connect to the county server (ask your administrator for its address).</span></div>
<label>服务器地址 <span class="en">Server address</span>
<input type="text" name="server_url" placeholder="http://10.0.0.5:8080" value="{{.ServerURL}}"></label>
</fieldset>
<p class="en">数据目录 Data directory (standalone): {{.DataDir}}</p>
<button type="submit">开始使用 <span style="font-size:12px">Start</span></button>
</form></div></body></html>`))

var awayPage = template.Must(template.New("away").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta http-equiv="refresh" content="3"><title>一网统管 · 服务器连接中断</title>` + pageStyle + `</head>
<body><div class="card away">
<h1>无法连接服务器，正在重连…</h1><div class="en">The yiwang server cannot be reached; retrying every 3 seconds…</div>
{{if .Error}}<p class="en">{{.Error}}</p>{{end}}
<p><a href="/__yw/desktop/reset">更换服务器或运行方式 <span class="en">Change server or mode</span></a></p>
</div></body></html>`))

func renderPage(w http.ResponseWriter, t *template.Template, data any) {
	_ = t.Execute(w, data)
}
