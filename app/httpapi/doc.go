// Package httpapi is the HTTP framework every yiwang module builds its API
// on: a router over net/http's ServeMux whose route table carries metadata,
// the error envelope, strict JSON decoding, validation, pagination, the
// authenticated Principal with its data scope, and the role/permission
// catalogue.
//
// # Why it is built this way
//
// One route table. Every route is registered as a Route value with its method,
// path, summary, required permission and request/response Go types. The
// router installs the same table in the ServeMux and generates
// /api/openapi.json from it, so the document cannot drift from the real
// routes (router_test.go checks both directions).
//
// Deny by default. A route is authenticated unless it says Public, and
// authorised by the permission it names. Data scope (all / department tree /
// grid / own records) travels in the Principal and is applied in SQL by the
// module through Principal.ScopeFilter, never only in the UI.
//
// Errors are values. Handlers return error; the router maps *store.Error codes
// to HTTP status (invalid→400, unauthorized→401, forbidden→403,
// not_found→404, conflict→409, too_large→413, unavailable/not_leader→503)
// and writes {"error":{"code","message","fields"}}. Internal errors are
// logged and answered with a generic message.
//
// Strict input. Bodies are size-limited (413 past the limit), decoded with
// unknown fields refused, and validated per field; unknown query parameters
// on list endpoints are refused too, so typos surface instead of silently
// returning everything.
//
// # Writing a module
//
// A module is a package under app/ that implements Module. The composition
// root (package app) calls Register before the store starts and Routes once
// the router exists; modules never import package app.
//
//	package widgets
//
//	type Module struct{ st *store.Store }
//
//	var _ httpapi.Module = (*Module)(nil)
//
//	func (m *Module) Name() string { return "widgets" }
//
//	func (m *Module) Register(st *store.Store) {
//		m.st = st
//		st.AddMigrations("widgets", `CREATE TABLE widgets_widget(
//			id INTEGER PRIMARY KEY, name TEXT NOT NULL, dept_id INTEGER NOT NULL)`)
//		st.Register("widget.create", 1, m.applyCreate)
//	}
//
//	var listSpec = &httpapi.ListSpec{
//		Sort:        map[string]string{"name": "name", "id": "id"},
//		DefaultSort: "id",
//		Filters:     map[string]httpapi.Filter{"dept_id": {Column: "dept_id", Kind: httpapi.FilterInt}},
//	}
//
//	func (m *Module) Routes(r *httpapi.Router) {
//		r.Handle(httpapi.Route{
//			Method: "GET", Path: "/api/v1/widgets", Summary: "List widgets",
//			Perm: "widget.read", List: listSpec, Response: httpapi.Page[Widget]{},
//			Handler: m.list,
//		})
//		r.Handle(httpapi.Route{
//			Method: "POST", Path: "/api/v1/widgets", Summary: "Create a widget",
//			Perm: "widget.write", Request: CreateWidget{}, Response: Widget{},
//			Status: http.StatusCreated, Handler: m.create,
//		})
//	}
//
//	func (m *Module) list(w http.ResponseWriter, r *http.Request) error {
//		p := httpapi.MustPrincipal(r)
//		q, err := httpapi.ParseList(r, listSpec)
//		if err != nil {
//			return err
//		}
//		q.Scope(p, httpapi.ScopeColumns{Dept: "dept_id"})
//		// SELECT ... FROM widgets_widget <q.WhereSQL()> <q.OrderBy()> <q.LimitSQL()>
//		return httpapi.JSON(w, http.StatusOK, httpapi.Page[Widget]{Items: items, Total: total})
//	}
//
//	func (m *Module) create(w http.ResponseWriter, r *http.Request) error {
//		var in CreateWidget // implements httpapi.Validatable
//		if err := httpapi.Decode(r, &in); err != nil {
//			return err
//		}
//		res, err := httpapi.Apply(r, m.st, "widget.create", 1, in)
//		...
//	}
//
// Large tables. A list over a table that may hold a million rows builds
// its page with ListQuery.DeferredSQL (keys from an index with ORDER BY and
// LIMIT/OFFSET, then full rows for those keys only), counts with
// CappedCountSQL and Page.SetTotal (the total stops at CountCap and the
// page says total_capped), and needs an index behind every filter and sort
// key it offers; FilterPrefix and the grid scope are index ranges, not
// LIKE. See app/org's users list and docs/bench-app.md.
//
// New permissions are declared once, with the built-in roles that get them:
//
//	var _ = httpapi.DefinePermission("widget.read", "查看部件", httpapi.RoleAdmin, httpapi.RoleViewer)
package httpapi
