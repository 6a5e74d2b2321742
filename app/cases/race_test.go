//go:build race

package cases

func init() { raceEnabled = true }
