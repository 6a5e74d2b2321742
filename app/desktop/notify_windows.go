package desktop

import (
	"os"
	"os/exec"
	"syscall"
)

// toastNotifier shows a Windows toast through PowerShell and the WinRT
// ToastNotificationManager (no cgo, no extra files). Title and body go in
// environment variables, never in the script text.
type toastNotifier struct{ logf func(string, ...any) }

func platformNotifier(logf func(string, ...any)) Notifier { return toastNotifier{logf} }

const toastScript = `[Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, ContentType = WindowsRuntime] > $null
$t = [Windows.UI.Notifications.ToastNotificationManager]::GetTemplateContent([Windows.UI.Notifications.ToastTemplateType]::ToastText02)
$x = $t.GetElementsByTagName('text')
$x.Item(0).AppendChild($t.CreateTextNode($env:YW_TOAST_TITLE)) > $null
$x.Item(1).AppendChild($t.CreateTextNode($env:YW_TOAST_BODY)) > $null
[Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier('{1AC14E77-02E7-4E5D-B744-2EB1AE5198B7}\WindowsPowerShell\v1.0\powershell.exe').Show([Windows.UI.Notifications.ToastNotification]::new($t))`

func (n toastNotifier) Notify(title, body string) error {
	cmd := exec.Command("powershell.exe", "-NoProfile", "-NonInteractive", "-Command", toastScript)
	cmd.Env = append(os.Environ(), "YW_TOAST_TITLE="+title, "YW_TOAST_BODY="+body)
	cmd.SysProcAttr = &syscall.SysProcAttr{HideWindow: true, CreationFlags: 0x08000000} // CREATE_NO_WINDOW
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
