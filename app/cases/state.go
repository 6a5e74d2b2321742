package cases

import "sort"

// States of a case (GB/T 30428 workflow).
const (
	StateCollected  = "collected"  // 信息收集（待立案）
	StateRegistered = "registered" // 已立案（待派遣；无派遣规则时在指挥中心派遣队列）
	StateDispatched = "dispatched" // 已派遣（待处置部门签收）
	StateHandling   = "handling"   // 处置中
	StateFeedback   = "feedback"   // 已反馈（待核查）
	StateVerified   = "verified"   // 已核查（待结案）
	StateClosed     = "closed"     // 已结案（待评价）
	StateEvaluated  = "evaluated"  // 已评价
	StateParked     = "parked"     // 挂账
	StateVoid       = "void"       // 作废
	StateMerged     = "merged"     // 已合并（重复案件）
)

// StateNames are the Chinese names of the states.
var StateNames = map[string]string{
	StateCollected: "信息收集", StateRegistered: "已立案", StateDispatched: "已派遣",
	StateHandling: "处置中", StateFeedback: "已反馈", StateVerified: "已核查",
	StateClosed: "已结案", StateEvaluated: "已评价", StateParked: "挂账",
	StateVoid: "作废", StateMerged: "已合并",
}

// AllStates lists every state.
var AllStates = []string{StateCollected, StateRegistered, StateDispatched, StateHandling, StateFeedback,
	StateVerified, StateClosed, StateEvaluated, StateParked, StateVoid, StateMerged}

// IsOpen tells whether a case in state s still needs work (closed cases
// wait only for their evaluation and count as done).
func IsOpen(s string) bool {
	switch s {
	case StateClosed, StateEvaluated, StateVoid, StateMerged:
		return false
	}
	return true
}

// Actions (transitions and in-place steps).
const (
	ActRegister      = "register"       // 立案
	ActDispatch      = "dispatch"       // 派遣
	ActReassign      = "reassign"       // 改派 (reason)
	ActReturn        = "return"         // 回退 (reason): the department sends it back
	ActAccept        = "accept"         // 签收，开始处置
	ActFeedback      = "feedback"       // 处理反馈
	ActVerify        = "verify"         // 核查通过
	ActRework        = "rework"         // 核查不通过，返工 (reason)
	ActClose         = "close"          // 结案
	ActEvaluate      = "evaluate"       // 评价
	ActExtendRequest = "extend_request" // 延期申请 (reason)
	ActExtendApprove = "extend_approve" // 延期批准
	ActExtendReject  = "extend_reject"  // 延期驳回 (reason)
	ActPark          = "park"           // 挂账 (reason)
	ActUnpark        = "unpark"         // 解除挂账
	ActVoid          = "void"           // 作废 (reason)
	ActMerge         = "merge"          // 合并到另一案件 (target)
	ActNote          = "note"           // 备注/补充材料
	ActUrge          = "urge"           // 催办
	ActSupervise     = "supervise"      // 督办
)

// ActionNames are the Chinese names of the actions.
var ActionNames = map[string]string{
	"create": "上报", ActRegister: "立案", ActDispatch: "派遣", ActReassign: "改派", ActReturn: "回退",
	ActAccept: "签收", ActFeedback: "处理反馈", ActVerify: "核查通过", ActRework: "核查不通过返工",
	ActClose: "结案", ActEvaluate: "评价", ActExtendRequest: "延期申请", ActExtendApprove: "延期批准",
	ActExtendReject: "延期驳回", ActPark: "挂账", ActUnpark: "解除挂账", ActVoid: "作废",
	ActMerge: "合并", ActNote: "备注", ActUrge: "催办", ActSupervise: "督办",
	"merged_from": "合并重复案件", "alarm_cleared": "告警解除",
}

// same marks an action that keeps the state.
const same = "="

// transitions is the whole state machine: action → from state → to state.
var transitions = map[string]map[string]string{
	ActRegister: {StateCollected: StateRegistered},
	ActDispatch: {StateRegistered: StateDispatched},
	ActReassign: {StateDispatched: StateDispatched, StateHandling: StateDispatched},
	ActReturn:   {StateDispatched: StateRegistered, StateHandling: StateRegistered},
	ActAccept:   {StateDispatched: StateHandling},
	ActFeedback: {StateHandling: StateFeedback},
	ActVerify:   {StateFeedback: StateVerified},
	ActRework:   {StateFeedback: StateHandling, StateVerified: StateHandling},
	ActClose:    {StateVerified: StateClosed},
	ActEvaluate: {StateClosed: StateEvaluated},
	// 延期 is a request on a running handling stage; its state is a flag.
	ActExtendRequest: {StateDispatched: same, StateHandling: same},
	ActExtendApprove: {StateDispatched: same, StateHandling: same},
	ActExtendReject:  {StateDispatched: same, StateHandling: same},
	ActPark:          {StateDispatched: StateParked, StateHandling: StateParked},
	ActUnpark:        {StateParked: StateHandling},
	ActVoid:          {StateCollected: StateVoid, StateRegistered: StateVoid},
	ActMerge: {StateCollected: StateMerged, StateRegistered: StateMerged, StateDispatched: StateMerged,
		StateHandling: StateMerged},
	ActNote: {StateCollected: same, StateRegistered: same, StateDispatched: same, StateHandling: same,
		StateFeedback: same, StateVerified: same, StateParked: same, StateClosed: same},
	ActUrge: {StateCollected: same, StateRegistered: same, StateDispatched: same, StateHandling: same,
		StateFeedback: same, StateVerified: same},
	ActSupervise: {StateCollected: same, StateRegistered: same, StateDispatched: same, StateHandling: same,
		StateFeedback: same, StateVerified: same},
}

// reasonRequired lists actions that need a reason.
var reasonRequired = map[string]bool{
	ActReassign: true, ActReturn: true, ActRework: true, ActExtendRequest: true, ActExtendReject: true,
	ActPark: true, ActVoid: true,
}

// Actions lists every action name, sorted.
func Actions() []string {
	out := make([]string, 0, len(transitions))
	for a := range transitions {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Next returns the state after action in state from; ok is false when the
// transition is not allowed.
func Next(from, action string) (to string, ok bool) {
	m, ok := transitions[action]
	if !ok {
		return "", false
	}
	to, ok = m[from]
	if to == same {
		to = from
	}
	return to, ok
}

// Allowed lists the actions allowed in state s, sorted.
func Allowed(s string) []string {
	var out []string
	for a, m := range transitions {
		if _, ok := m[s]; ok {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// stageOf is the timed stage of a state ("" when no timer runs).
func stageOf(state string) string {
	switch state {
	case StateCollected:
		return "register"
	case StateRegistered:
		return "dispatch"
	case StateDispatched, StateHandling:
		return "handle"
	case StateFeedback:
		return "verify"
	case StateVerified:
		return "close"
	}
	return ""
}

// StageNames are the Chinese names of the timed stages.
var StageNames = map[string]string{"register": "立案", "dispatch": "派遣", "handle": "处置", "verify": "核查", "close": "结案"}
