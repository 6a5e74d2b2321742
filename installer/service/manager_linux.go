package service

func newManager(cfg Config) (Manager, error) {
	return NewSystemd(cfg)
}
