//go:build !linux && !windows

package desktop

type logNotifier struct{ logf func(string, ...any) }

func platformNotifier(logf func(string, ...any)) Notifier { return logNotifier{logf} }

func (n logNotifier) Notify(title, body string) error {
	n.logf("desktop: notification: %s — %s", title, body)
	return nil
}
