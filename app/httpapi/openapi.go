package httpapi

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// OpenAPI builds the OpenAPI 3.0 document from the route table.
func (rt *Router) OpenAPI() map[string]any {
	g := &schemaGen{components: map[string]any{}, seen: map[reflect.Type]string{}}
	paths := map[string]any{}
	for _, r := range rt.Routes() {
		item, _ := paths[r.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[r.Path] = item
		}
		item[strings.ToLower(r.Method)] = g.operation(r)
	}
	g.components["Error"] = g.schemaOf(reflect.TypeOf(ErrorBody{}))
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":   rt.opts.Title,
			"version": nonEmpty(rt.opts.Version, "dev"),
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.components,
			"securitySchemes": map[string]any{
				"bearer":  map[string]any{"type": "http", "scheme": "bearer"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": "yw_session"},
			},
		},
	}
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

var rePathParam = regexp.MustCompile(`\{([a-zA-Z_][a-zA-Z0-9_]*)(\.\.\.)?\}`)

func (g *schemaGen) operation(r Route) map[string]any {
	op := map[string]any{
		"summary":     r.Summary,
		"operationId": operationID(r),
	}
	if r.Description != "" {
		op["description"] = r.Description
	}
	if len(r.Tags) > 0 {
		op["tags"] = r.Tags
	} else if parts := strings.Split(strings.TrimPrefix(r.Path, "/api/v1/"), "/"); len(parts) > 0 {
		op["tags"] = []string{parts[0]}
	}
	if r.Perm != "" {
		op["x-permission"] = r.Perm
	}
	var params []any
	for _, m := range rePathParam.FindAllStringSubmatch(r.Path, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
	}
	if r.List != nil {
		for _, name := range r.List.params() {
			typ := "string"
			if name == "limit" || name == "offset" {
				typ = "integer"
			}
			if f, ok := r.List.Filters[name]; ok {
				switch f.Kind {
				case FilterInt:
					typ = "integer"
				case FilterBool:
					typ = "boolean"
				}
			}
			p := map[string]any{"name": name, "in": "query", "schema": map[string]any{"type": typ}}
			if f, ok := r.List.Filters[name]; ok && f.Doc != "" {
				p["description"] = f.Doc
			}
			params = append(params, p)
		}
	}
	for _, q := range r.Query {
		params = append(params, map[string]any{"name": q.Name, "in": "query", "required": q.Required,
			"description": q.Description, "schema": map[string]any{"type": nonEmpty(q.Type, "string")}})
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if r.Request != nil || r.RequestContentType != "" {
		ct := nonEmpty(r.RequestContentType, "application/json")
		var sch any = map[string]any{"type": "string", "format": "binary"}
		if r.Request != nil {
			sch = g.schemaOf(reflect.TypeOf(r.Request))
		}
		op["requestBody"] = map[string]any{"required": true, "content": map[string]any{ct: map[string]any{"schema": sch}}}
	}
	ok := map[string]any{"description": httpStatusText(r.Status)}
	if r.Response != nil || r.ResponseContentType != "" {
		ct := nonEmpty(r.ResponseContentType, "application/json")
		var sch any = map[string]any{"type": "string", "format": "binary"}
		if r.Response != nil {
			sch = g.schemaOf(reflect.TypeOf(r.Response))
		}
		ok["content"] = map[string]any{ct: map[string]any{"schema": sch}}
	}
	errResp := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{
			"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	}
	resps := map[string]any{itoa(r.Status): ok, "default": errResp("error")}
	if !r.Public {
		resps["401"] = errResp("not authenticated")
		resps["403"] = errResp("permission denied or out of data scope")
		op["security"] = []any{map[string]any{"bearer": []any{}}, map[string]any{"session": []any{}}}
	} else {
		op["security"] = []any{}
	}
	op["responses"] = resps
	return op
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func httpStatusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 204:
		return "No Content"
	}
	return "success"
}

func operationID(r Route) string {
	p := rePathParam.ReplaceAllString(r.Path, "by_$1")
	p = strings.TrimPrefix(p, "/api/")
	p = strings.NewReplacer("/", "_", ".", "_", "-", "_").Replace(p)
	return strings.ToLower(r.Method) + "_" + strings.Trim(p, "_")
}

type schemaGen struct {
	components map[string]any
	seen       map[reflect.Type]string
}

var (
	timeType    = reflect.TypeOf(time.Time{})
	rawJSONType = reflect.TypeOf(json.RawMessage{})
	reGeneric   = regexp.MustCompile(`[A-Za-z0-9_./\-]*/`)
	reBadName   = regexp.MustCompile(`[^A-Za-z0-9._\-]+`)
)

func componentName(t reflect.Type) string {
	name := t.Name()
	pkg := t.PkgPath()
	if i := strings.LastIndex(pkg, "/"); i >= 0 {
		pkg = pkg[i+1:]
	}
	name = reGeneric.ReplaceAllString(name, "")
	name = reBadName.ReplaceAllString(name, "_")
	name = strings.Trim(name, "_")
	if pkg != "" && pkg != "httpapi" {
		return pkg + "." + name
	}
	return name
}

func (g *schemaGen) schemaOf(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawJSONType:
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := g.schemaOf(t.Elem())
		if _, isRef := s["$ref"]; isRef {
			return map[string]any{"allOf": []any{s}, "nullable": true}
		}
		c := map[string]any{"nullable": true}
		for k, v := range s {
			c[k] = v
		}
		return c
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s := map[string]any{"type": "integer"}
		if t.Kind() == reflect.Int64 || t.Kind() == reflect.Uint64 {
			s["format"] = "int64"
		}
		return s
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": g.schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schemaOf(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		if t.Name() == "" {
			return g.structSchema(t)
		}
		name, ok := g.seen[t]
		if !ok {
			name = componentName(t)
			g.seen[t] = name
			g.components[name] = map[string]any{} // placeholder for recursion
			g.components[name] = g.structSchema(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func (g *schemaGen) structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	var addFields func(t reflect.Type)
	addFields = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					addFields(ft)
					continue
				}
			}
			if name == "" {
				name = f.Name
			}
			s := g.schemaOf(f.Type)
			if d := f.Tag.Get("doc"); d != "" {
				if _, isRef := s["$ref"]; !isRef {
					s["description"] = d
				}
			}
			props[name] = s
			if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") && f.Type.Kind() != reflect.Pointer {
				required = append(required, name)
			}
		}
	}
	addFields(t)
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}
