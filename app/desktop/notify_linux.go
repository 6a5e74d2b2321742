package desktop

import (
	"os/exec"

	"github.com/godbus/dbus/v5"
)

// dbusNotifier calls org.freedesktop.Notifications on the session bus
// (what notify-send does); without a session bus it runs notify-send when
// installed, else it only logs.
type dbusNotifier struct {
	logf func(string, ...any)
	bus  func() (*dbus.Conn, error) // dbus.SessionBus
}

func platformNotifier(logf func(string, ...any)) Notifier {
	return dbusNotifier{logf: logf, bus: dbus.SessionBus}
}

func (n dbusNotifier) Notify(title, body string) error {
	conn, err := n.bus()
	if err == nil {
		obj := conn.Object("org.freedesktop.Notifications", "/org/freedesktop/Notifications")
		call := obj.Call("org.freedesktop.Notifications.Notify", 0,
			"一网统管", uint32(0), "dialog-warning", title, body, []string{},
			map[string]dbus.Variant{"urgency": dbus.MakeVariant(byte(2))}, int32(10000))
		if call.Err == nil {
			return nil
		}
		err = call.Err
	}
	if p, lerr := exec.LookPath("notify-send"); lerr == nil {
		return exec.Command(p, "-a", "一网统管", "-u", "critical", title, body).Run()
	}
	n.logf("desktop: notification (no notification service: %v): %s — %s", err, title, body)
	return nil
}
