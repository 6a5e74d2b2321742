// Package demo creates the fictional demo county 示范县 (code 139999) for
// `yiwang serve --demo`: departments (委办局 and 乡镇街道), the grid tree
// with a few hundred unit grids and their boundaries, one account per role
// with a random one-time password printed once, and whatever sample data
// later modules add through Register.
//
// # Why it is built this way
//
// Seeding goes through the same store commands as the API, so the demo data
// is audited, replicated and valid by construction. Each seed step is
// recorded by a demo.seeded command when it finishes, so a restart with
// --demo never duplicates anything and never resets a password; the org
// step additionally checks each item before creating it, so an interrupted
// first run completes on the next start. Passwords are random (never a
// default) and printed only when their account is created.
//
// Later modules add their sample data with a hook:
//
//	func init() {
//		demo.Register("cases", func(ctx context.Context, s *demo.Seeder) error {
//			grid := s.County.UnitGrids[0]
//			dept := s.County.Departments["城管局"]
//			... issue the module's own commands with actor s.Actor ...
//			return nil
//		})
//	}
//
// Hooks run in registration order after the county exists, each once.
package demo
