package cases

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/sla"
	"github.com/yiwang/yiwang/store"
)

// Open311 GeoReport v2 (JSON only). Services are the enabled 小类; a
// request is a case with source open311. api_key is an integrator's API
// token (also accepted as a Bearer header); it is required to file and to
// read requests, the service list is public.

// Service is an Open311 service (a 小类).
type Service struct {
	ServiceCode string `json:"service_code"`
	ServiceName string `json:"service_name"`
	Description string `json:"description"`
	Metadata    bool   `json:"metadata"`
	Type        string `json:"type"`
	Keywords    string `json:"keywords"`
	Group       string `json:"group"`
}

// ServiceDefinition is GET services/{code}.json.
type ServiceDefinition struct {
	ServiceCode string `json:"service_code"`
	Attributes  []any  `json:"attributes"`
}

// ServiceRequest is an Open311 request (a case).
type ServiceRequest struct {
	ServiceRequestID  string   `json:"service_request_id"`
	Status            string   `json:"status" doc:"open or closed"`
	StatusNotes       string   `json:"status_notes"`
	ServiceName       string   `json:"service_name"`
	ServiceCode       string   `json:"service_code"`
	Description       string   `json:"description"`
	AgencyResponsible string   `json:"agency_responsible"`
	ServiceNotice     string   `json:"service_notice"`
	RequestedDatetime string   `json:"requested_datetime"`
	UpdatedDatetime   string   `json:"updated_datetime"`
	ExpectedDatetime  string   `json:"expected_datetime,omitempty"`
	Address           string   `json:"address"`
	AddressID         string   `json:"address_id"`
	Zipcode           string   `json:"zipcode"`
	Lat               *float64 `json:"lat,omitempty"`
	Long              *float64 `json:"long,omitempty"`
	MediaURL          string   `json:"media_url"`
}

// Open311Created answers POST requests.json.
type Open311Created struct {
	ServiceRequestID string `json:"service_request_id"`
	ServiceNotice    string `json:"service_notice"`
	AccountID        any    `json:"account_id"`
}

// Open311Error is one element of an Open311 error answer.
type Open311Error struct {
	Code        int    `json:"code"`
	Description string `json:"description"`
}

func open311Error(w http.ResponseWriter, err error) error {
	e := store.AsError(err)
	status := httpapi.StatusOf(e.Code)
	msg := e.Message
	if status == http.StatusInternalServerError {
		msg = "internal error"
	}
	return httpapi.JSON(w, status, []Open311Error{{Code: status, Description: msg}})
}

func o311Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(sla.China).Format(time.RFC3339)
}

func (m *Module) open311Routes(r *httpapi.Router) {
	tags := []string{"open311"}
	r.Handle(httpapi.Route{Method: "GET", Path: "/open311/v2/services.json", Summary: "Open311: service list (小类)", Public: true,
		Tags: tags, Response: []Service{}, Handler: m.o311Services})
	r.Handle(httpapi.Route{Method: "GET", Path: "/open311/v2/services/{file}", Summary: "Open311: service definition ({service_code}.json)", Public: true,
		Tags: tags, Response: ServiceDefinition{}, Handler: m.o311Service})
	r.Handle(httpapi.Route{Method: "POST", Path: "/open311/v2/requests.json", Summary: "Open311: file a service request (form or JSON; api_key required)", Public: true,
		Tags: tags, RequestContentType: "application/x-www-form-urlencoded", Response: []Open311Created{}, Status: http.StatusCreated, Handler: m.o311Post})
	r.Handle(httpapi.Route{Method: "GET", Path: "/open311/v2/requests.json", Summary: "Open311: service requests (api_key required)", Public: true,
		Tags: tags, Response: []ServiceRequest{},
		Query:   []httpapi.Param{{Name: "api_key"}, {Name: "service_request_id"}, {Name: "service_code"}, {Name: "start_date"}, {Name: "end_date"}, {Name: "status"}},
		Handler: m.o311List})
	r.Handle(httpapi.Route{Method: "GET", Path: "/open311/v2/requests/{file}", Summary: "Open311: one service request ({id}.json; api_key required)", Public: true,
		Tags: tags, Response: []ServiceRequest{}, Query: []httpapi.Param{{Name: "api_key"}}, Handler: m.o311Get})
}

func jsonFile(r *http.Request) (string, bool) {
	return strings.CutSuffix(r.PathValue("file"), ".json")
}

// o311Principal authenticates the api_key (or a Bearer header).
func (m *Module) o311Principal(r *http.Request, key string, perm string) (*http.Request, *httpapi.Principal, error) {
	p := httpapi.MustPrincipal(r)
	if p == nil && key != "" && m.opts.Org != nil {
		r2 := r.Clone(r.Context())
		r2.Header.Set("Authorization", "Bearer "+key)
		r2.Header.Del("Cookie")
		var err error
		if p, err = m.opts.Org.Authenticate(r2); err != nil {
			p = nil
		}
	}
	if p == nil {
		return r, nil, httpapi.Errorf(httpapi.CodeUnauthorized, "a valid api_key is required")
	}
	if !p.Can(perm) {
		return r, nil, httpapi.Errorf(httpapi.CodeForbidden, "the api_key lacks permission %s", perm)
	}
	return r.WithContext(httpapi.WithPrincipal(r.Context(), p)), p, nil
}

func (m *Module) o311Services(w http.ResponseWriter, r *http.Request) error {
	cats, err := m.Categories(r.Context())
	if err != nil {
		return open311Error(w, err)
	}
	out := []Service{}
	for _, mj := range cats {
		for _, c := range mj.Children {
			if c.Disabled || mj.Disabled {
				continue
			}
			out = append(out, service(mj, c))
		}
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func service(mj, c *Category) Service {
	desc := c.Name
	if len(c.Conditions) > 0 {
		desc = c.Conditions[0].Text
	}
	kind := map[string]string{KindComponent: "部件", KindEvent: "事件"}[c.Kind]
	return Service{ServiceCode: c.Code, ServiceName: c.Name, Description: desc, Type: "realtime", Keywords: kind + "," + mj.Name, Group: kind + "/" + mj.Name}
}

func (m *Module) serviceByCode(ctx context.Context, code string) (*Category, *Category, error) {
	cats, err := m.Categories(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, mj := range cats {
		for _, c := range mj.Children {
			if c.Code == code && !c.Disabled && !mj.Disabled {
				return mj, c, nil
			}
		}
	}
	return nil, nil, store.Errorf("not_found", "unknown service_code %q", code)
}

func (m *Module) o311Service(w http.ResponseWriter, r *http.Request) error {
	code, ok := jsonFile(r)
	if !ok {
		return open311Error(w, store.Errorf("not_found", "only JSON is served (.json)"))
	}
	if _, _, err := m.serviceByCode(r.Context(), code); err != nil {
		return open311Error(w, err)
	}
	return httpapi.JSON(w, http.StatusOK, ServiceDefinition{ServiceCode: code, Attributes: []any{}})
}

func (m *Module) o311Post(w http.ResponseWriter, r *http.Request) error {
	vals, err := o311Form(r)
	if err != nil {
		return open311Error(w, err)
	}
	// The request is checked before the key (the service list is public,
	// so this reveals nothing).
	mj, svc, err := m.serviceByCode(r.Context(), vals["service_code"])
	if err != nil {
		if vals["service_code"] == "" {
			err = httpapi.FieldError("service_code", "is required")
		}
		return open311Error(w, err)
	}
	in := CaseInput{Source: SourceOpen311, CategoryCode: svc.Code, Description: vals["description"], Address: vals["address_string"],
		ExternalID: vals["device_id"], ReporterPhone: vals["phone"]}
	_ = mj
	if s := vals["lat"]; s != "" {
		if in.Lat, err = strconv.ParseFloat(s, 64); err != nil {
			return open311Error(w, httpapi.FieldError("lat", "must be a number"))
		}
	}
	if s := vals["long"]; s != "" {
		if in.Lng, err = strconv.ParseFloat(s, 64); err != nil {
			return open311Error(w, httpapi.FieldError("long", "must be a number"))
		}
	}
	if (in.Lat == 0 || in.Lng == 0) && in.Address == "" {
		return open311Error(w, httpapi.FieldError("lat", "a location (lat and long) or address_string is required"))
	}
	in.Reporter = strings.TrimSpace(vals["first_name"] + " " + vals["last_name"])
	if vals["email"] != "" && in.Reporter == "" {
		in.Reporter = vals["email"]
	}
	in.Reporter = truncate(in.Reporter, 64)
	where := in.Address
	if where == "" {
		where = fmt.Sprintf("%.5f,%.5f", in.Lat, in.Lng)
	}
	in.Title = truncate(svc.Name+"："+where, 100)
	if u := vals["media_url"]; u != "" {
		in.Description = strings.TrimSpace(in.Description + "\n图片：" + u)
	}
	in.Description = truncate(in.Description, 4000)
	if err := in.Validate(); err != nil {
		return open311Error(w, err)
	}
	r, p, err := m.o311Principal(r, vals["api_key"], httpapi.PermCaseCreate)
	if err != nil {
		return open311Error(w, err)
	}
	c, err := m.intake(r.Context(), r, p, in)
	if err != nil {
		return open311Error(w, err)
	}
	return httpapi.JSON(w, http.StatusCreated, []Open311Created{{ServiceRequestID: itoa(c.ID), ServiceNotice: fmt.Sprintf("已受理，编号 %d", c.ID)}})
}

// o311Form reads a form-encoded (per the spec) or JSON body.
func o311Form(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		var raw map[string]any
		if err := httpapi.Decode(r, &raw); err != nil {
			return nil, err
		}
		for k, v := range raw {
			out[k] = strings.TrimSpace(fmt.Sprint(v))
		}
	} else {
		if err := r.ParseForm(); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, &store.Error{Code: httpapi.CodeTooLarge, Message: "request body too large"}
			}
			return nil, httpapi.Errorf(httpapi.CodeInvalid, "malformed form body")
		}
		for k, v := range r.Form {
			if len(v) > 0 {
				out[k] = strings.TrimSpace(v[0])
			}
		}
	}
	return out, nil
}

func (m *Module) o311List(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	r, p, err := m.o311Principal(r, q.Get("api_key"), httpapi.PermCaseRead)
	if err != nil {
		return open311Error(w, err)
	}
	var lq httpapi.ListQuery
	lq.Limit = 1000
	lq.And("source != 'sensor'")
	if ids := q.Get("service_request_id"); ids != "" {
		parts := strings.Split(ids, ",")
		if len(parts) > 200 {
			return open311Error(w, httpapi.FieldError("service_request_id", "at most 200 ids"))
		}
		ph := make([]string, 0, len(parts))
		args := []any{}
		for _, s := range parts {
			id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return open311Error(w, httpapi.FieldError("service_request_id", "must be ids"))
			}
			ph = append(ph, "?")
			args = append(args, id)
		}
		lq.And("id IN ("+strings.Join(ph, ",")+")", args...)
	} else {
		start := time.Now().AddDate(0, 0, -90)
		if s := q.Get("start_date"); s != "" {
			if start, err = httpapi.ParseTime(s); err != nil {
				return open311Error(w, httpapi.FieldError("start_date", err.Error()))
			}
		}
		lq.And("created_at >= ?", dbt(start))
		if s := q.Get("end_date"); s != "" {
			end, err := httpapi.ParseTime(s)
			if err != nil {
				return open311Error(w, httpapi.FieldError("end_date", err.Error()))
			}
			lq.And("created_at <= ?", dbt(end))
		}
		if s := q.Get("service_code"); s != "" {
			lq.And("category_code = ?", s)
		}
		switch q.Get("status") {
		case "":
		case "open":
			lq.And("open = 1")
		case "closed":
			lq.And("open = 0")
		default:
			return open311Error(w, httpapi.FieldError("status", "must be open or closed"))
		}
	}
	{
		cond, args := scopeFilter(p)
		lq.And(cond, args...)
	}
	cases, err := m.queryCases(r.Context(), `SELECT `+caseCols+` FROM cases_case `+lq.WhereSQL()+` ORDER BY id DESC `+lq.LimitSQL(), lq.Args()...)
	if err != nil {
		return open311Error(w, err)
	}
	out := make([]ServiceRequest, 0, len(cases))
	for i := range cases {
		out = append(out, m.serviceRequest(r.Context(), &cases[i]))
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (m *Module) o311Get(w http.ResponseWriter, r *http.Request) error {
	r, p, err := m.o311Principal(r, r.URL.Query().Get("api_key"), httpapi.PermCaseRead)
	if err != nil {
		return open311Error(w, err)
	}
	s, ok := jsonFile(r)
	id, err := strconv.ParseInt(s, 10, 64)
	if !ok || err != nil || id <= 0 {
		return open311Error(w, store.Errorf("not_found", "no such service request"))
	}
	c, err := m.scoped(r.Context(), p, id)
	if err != nil {
		return open311Error(w, store.Errorf("not_found", "no such service request"))
	}
	return httpapi.JSON(w, http.StatusOK, []ServiceRequest{m.serviceRequest(r.Context(), c)})
}

func (m *Module) serviceRequest(ctx context.Context, c *Case) ServiceRequest {
	sr := ServiceRequest{ServiceRequestID: itoa(c.ID), Status: "open", ServiceCode: c.CategoryCode, Description: c.Description,
		RequestedDatetime: o311Time(c.CreatedAt), UpdatedDatetime: o311Time(c.UpdatedAt), Address: c.Address}
	if !c.Open {
		sr.Status = "closed"
	}
	if c.Lat != 0 || c.Lng != 0 {
		lat, lng := c.Lat, c.Lng
		sr.Lat, sr.Long = &lat, &lng
	}
	if c.Open && !c.HandleDeadline.IsZero() {
		sr.ExpectedDatetime = o311Time(c.HandleDeadline)
	}
	if _, svc, err := m.serviceByCode(ctx, c.CategoryCode); err == nil {
		sr.ServiceName = svc.Name
		if len(svc.Conditions) > 0 {
			sr.ServiceNotice = "处置时限 " + svc.Conditions[0].Limit.String()
		}
	}
	if c.DeptID != 0 && m.opts.Org != nil {
		if d, err := m.opts.Org.Department(ctx, c.DeptID); err == nil {
			sr.AgencyResponsible = d.Name
		}
	}
	notes := StateNames[c.State]
	var note string
	_ = m.st.DB().QueryRowContext(ctx, `SELECT CASE WHEN note != '' THEN note ELSE reason END FROM cases_step WHERE case_id = ? AND action NOT IN ('urge', 'supervise') ORDER BY seq DESC LIMIT 1`, c.ID).Scan(&note)
	if note != "" && note != c.Description {
		notes += "：" + truncate(note, 200)
	}
	sr.StatusNotes = notes
	return sr
}
