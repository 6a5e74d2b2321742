package simulate

import (
	"math"
	"math/rand/v2"
	"time"
)

// Device types the simulator knows.
const (
	TypeWaterLevel = "water_level" // 水位计
	TypeAirQuality = "air_quality" // 空气质量监测
	TypeManhole    = "manhole"     // 智能井盖
	TypeSmoke      = "smoke"       // 烟感
)

// Types lists the simulated device types in demo order.
var Types = []string{TypeWaterLevel, TypeAirQuality, TypeManhole, TypeSmoke}

// Typical alarm thresholds the demo rules use; a sensor in an excursion
// crosses them.
const (
	WaterLevelAlarm = 3.0  // m
	PM25Alarm       = 115  // µg/m³ (重度污染 begins at 150, 中度 at 115)
	TiltAlarm       = 10.0 // degrees
	SmokeAlarm      = 0.15 // dB/m
)

// Sensor produces a plausible time series for one device: a daily cycle,
// noise and a slow random walk, and now and then an excursion (flood peak,
// pollution episode, cover lifted, smoke) that crosses the alarm threshold
// for a while and then returns to normal.
type Sensor struct {
	Type string
	rng  *rand.Rand

	base, walk float64
	battery    float64
	// excursion state: remaining steps and peak
	exLeft, exLen int
	exPeak        float64
	// ExcursionProb is the chance per reading of starting an excursion.
	ExcursionProb float64
	Excursions    int
}

// NewSensor returns a sensor of typ seeded by seed.
func NewSensor(typ string, seed uint64) *Sensor {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := &Sensor{Type: typ, rng: rng, battery: 3.55 + rng.Float64()*0.15, ExcursionProb: 0.002}
	switch typ {
	case TypeWaterLevel:
		s.base = 1.4 + rng.Float64()*1.0 // m
	case TypeAirQuality:
		s.base = 25 + rng.Float64()*30 // PM2.5 µg/m³
	case TypeManhole:
		s.base = 0.3 + rng.Float64()*0.8 // tilt °
	case TypeSmoke:
		s.base = 0.01 + rng.Float64()*0.03 // dB/m
	}
	return s
}

// InExcursion reports whether the sensor is currently in an excursion.
func (s *Sensor) InExcursion() bool { return s.exLeft > 0 }

// excursion returns the excursion factor 0..1..0 (a ramp up and down).
func (s *Sensor) excursion() float64 {
	if s.exLeft == 0 {
		if s.rng.Float64() >= s.ExcursionProb {
			return 0
		}
		s.exLen = 10 + s.rng.IntN(30)
		s.exLeft = s.exLen
		s.exPeak = 1 + s.rng.Float64()
		s.Excursions++
	}
	s.exLeft--
	pos := float64(s.exLen-s.exLeft) / float64(s.exLen) // 0..1
	f := math.Sin(pos * math.Pi)                        // 0..1..0
	if f > 0.35 {
		f = 1 // hold the peak for a while: "above the threshold for N minutes"
	} else {
		f /= 0.35
	}
	return f * s.exPeak
}

// Next returns the readings at t.
func (s *Sensor) Next(t time.Time) map[string]float64 {
	hour := float64(t.Hour()) + float64(t.Minute())/60
	day := math.Sin((hour - 9) / 24 * 2 * math.Pi) // peak mid-afternoon
	s.walk = s.walk*0.98 + s.rng.NormFloat64()*0.02
	s.battery -= 0.00001 * s.rng.Float64()
	ex := s.excursion()
	v := map[string]float64{"battery": round(s.battery, 3)}
	switch s.Type {
	case TypeWaterLevel:
		level := s.base + 0.15*day + s.walk*0.5 + s.rng.NormFloat64()*0.01
		if ex > 0 {
			level += ex * (WaterLevelAlarm - s.base + 0.3)
		}
		v["water_level"] = round(math.Max(level, 0), 3)
		v["flow_rate"] = round(math.Max(0.4+level*0.3+s.rng.NormFloat64()*0.05, 0), 2)
	case TypeAirQuality:
		morning := math.Exp(-math.Pow(hour-8, 2) / 4)
		evening := math.Exp(-math.Pow(hour-19, 2) / 6)
		pm25 := s.base*(1+0.4*morning+0.5*evening) + s.walk*20 + s.rng.NormFloat64()*3
		if ex > 0 {
			pm25 += ex * (PM25Alarm + 40 - s.base)
		}
		pm25 = math.Max(pm25, 3)
		pm10 := pm25*(1.5+0.3*s.rng.Float64()) + s.rng.NormFloat64()*4
		v["pm25"] = round(pm25, 1)
		v["pm10"] = round(math.Max(pm10, pm25), 1)
		v["aqi"] = math.Round(math.Max(IAQI(pm25, pm25Breaks), IAQI(pm10, pm10Breaks)))
		v["temperature"] = round(16+6*day+s.rng.NormFloat64()*0.3, 1)
		v["humidity"] = round(math.Min(math.Max(65-15*day+s.rng.NormFloat64()*2, 10), 100), 1)
	case TypeManhole:
		tilt := s.base + math.Abs(s.rng.NormFloat64())*0.1
		open := 0.0
		if ex > 0 {
			tilt += ex * 20
			if ex > 0.5 {
				open = 1
			}
		}
		v["tilt"] = round(tilt, 2)
		v["cover_open"] = open
		v["water_in"] = 0
	case TypeSmoke:
		smoke := s.base + math.Abs(s.rng.NormFloat64())*0.005
		temp := 22 + 4*day + s.rng.NormFloat64()*0.2
		alarm := 0.0
		if ex > 0 {
			smoke += ex * 0.25
			temp += ex * 15
			if smoke >= SmokeAlarm {
				alarm = 1
			}
		}
		v["smoke"] = round(smoke, 3)
		v["temperature"] = round(temp, 1)
		v["alarm"] = alarm
	}
	return v
}

func round(f float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(f*p) / p
}

// IAQI breakpoints of HJ 633-2012 (24-hour concentrations, µg/m³).
var (
	pm25Breaks = []float64{0, 35, 75, 115, 150, 250, 350, 500}
	pm10Breaks = []float64{0, 50, 150, 250, 350, 420, 500, 600}
	iaqiSteps  = []float64{0, 50, 100, 150, 200, 300, 400, 500}
)

// IAQI computes the individual air quality index of a concentration.
func IAQI(c float64, breaks []float64) float64 {
	for i := 1; i < len(breaks); i++ {
		if c <= breaks[i] {
			lo, hi := breaks[i-1], breaks[i]
			return iaqiSteps[i-1] + (iaqiSteps[i]-iaqiSteps[i-1])*(c-lo)/(hi-lo)
		}
	}
	return 500
}
