package desktop

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// notificationServer is a real org.freedesktop.Notifications service on a
// private session bus.
type notificationServer struct{ got chan [2]string }

func (s *notificationServer) Notify(app string, id uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	s.got <- [2]string{summary, body}
	return 1, nil
}

// TestDBusNotification starts a private dbus-daemon, registers a
// notification service on it and checks that the notifier calls it.
func TestDBusNotification(t *testing.T) {
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dbus-daemon is not installed")
		}
		t.Skip("dbus-daemon is not installed")
	}
	cmd := exec.Command(daemon, "--session", "--nofork", "--nopidfile", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr = strings.TrimSpace(addr)
	connect := func() (*dbus.Conn, error) {
		c, err := dbus.Connect(addr)
		return c, err
	}

	srvConn, err := connect()
	if err != nil {
		t.Fatal(err)
	}
	defer srvConn.Close()
	srv := &notificationServer{got: make(chan [2]string, 1)}
	if err := srvConn.Export(srv, "/org/freedesktop/Notifications", "org.freedesktop.Notifications"); err != nil {
		t.Fatal(err)
	}
	if reply, err := srvConn.RequestName("org.freedesktop.Notifications", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("request name: %v %v", reply, err)
	}

	n := dbusNotifier{logf: t.Logf, bus: connect}
	title, body, _ := NotificationFor("alarm.raised", []byte(`{"title":"河道水位超警戒","severity":"critical","device_name":"东湖水位计-03"}`))
	if err := n.Notify(title, body); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-srv.got:
		if got[0] != "告警 河道水位超警戒" || got[1] != "紧急 · 东湖水位计-03" {
			t.Fatalf("notification %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the notification service was not called")
	}
}
