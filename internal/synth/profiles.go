package synth

// Type names used in the profile tables; they are record.Types values.
const (
	pst = "pistol"
	rev = "revolver"
	rfl = "rifle"
	sgn = "shotgun"
	smg = "submachine_gun"
	mgn = "machine_gun"
	oth = "other"
)

// model is a real model of a maker with its type and calibre class id (reference.CalibreByID).
type model struct {
	name   string
	typ    string
	cal    string
	w      float64 // relative frequency among the maker's models
	serial string  // serial pattern overriding the maker's, empty for the maker's own
}

// profile describes how often a maker turns up in records and what it makes. Serial patterns use
// '#' for the counting digits (the last block counts, as a factory run does), '*' for a digit and
// '@' for a Latin letter fixed for the run, '%' for a Cyrillic letter and '^' for a four-digit year.
type profile struct {
	id      string
	w       float64
	serials []string
	models  []model
}

func m(name, typ, cal string, w float64) model { return model{name: name, typ: typ, cal: cal, w: w} }

// ms is m with a serial pattern of its own.
func ms(name, typ, cal string, w float64, serial string) model {
	return model{name: name, typ: typ, cal: cal, w: w, serial: serial}
}

// majorProfiles are the makers that dominate lost and stolen firearm records, with weights that
// roughly follow their share of handguns and long guns in circulation and in trafficking reports.
var majorProfiles = []profile{
	{"glock", 10, []string{"@@@###", "@@@@###"}, []model{
		m("Glock 17", pst, "9x19", 5), m("Glock 19", pst, "9x19", 5), m("Glock 26", pst, "9x19", 2),
		m("Glock 43", pst, "9x19", 2), m("Glock 22", pst, "40sw", 2), m("Glock 23", pst, "40sw", 2),
		m("Glock 21", pst, "45acp", 1), m("Glock 30", pst, "45acp", 0.7), m("Glock 42", pst, "380acp", 1),
		m("Glock 48", pst, "9x19", 0.8), m("Glock 45", pst, "9x19", 0.6), m("Glock 18", pst, "9x19", 0.1),
	}},
	{"smith_wesson", 9, []string{"@@@####"}, []model{
		m("M&P9", pst, "9x19", 4), m("M&P9 Shield", pst, "9x19", 4), m("M&P40", pst, "40sw", 2),
		m("SD9VE", pst, "9x19", 3), m("SW40VE", pst, "40sw", 1.5), m("Bodyguard 380", pst, "380acp", 1.5),
		ms("Model 10", rev, "38spl", 2, "@######"), ms("Model 686", rev, "357mag", 1.5, "@@@####"),
		m("Model 642", rev, "38spl", 2), ms("Model 19", rev, "357mag", 1, "@######"),
		m("Model 29", rev, "44mag", 0.5), ms("Model 36", rev, "38spl", 1, "@######"),
		m("Model 60", rev, "357mag", 1), m("M&P15", rfl, "556x45", 1.5), m("SW1911", pst, "45acp", 0.5),
	}},
	{"beretta", 7, []string{"@@#####", "BER######@"}, []model{
		ms("92FS", pst, "9x19", 5, "BER######@"), m("92", pst, "9x19", 1), ms("M9", pst, "9x19", 1, "M9-######"),
		ms("Px4 Storm", pst, "9x19", 2.5, "PX#####"), m("84 Cheetah", pst, "380acp", 1.2),
		m("85 Cheetah", pst, "380acp", 0.5), ms("3032 Tomcat", pst, "32acp", 0.8, "DAA###@@"),
		m("950 Jetfire", pst, "25acp", 0.6), m("Nano", pst, "9x19", 0.5), m("APX", pst, "9x19", 0.5),
		m("1301", sgn, "12ga", 0.5), m("A300 Outlander", sgn, "12ga", 0.6), m("686 Silver Pigeon", sgn, "12ga", 0.8),
		m("ARX160", rfl, "556x45", 0.2), m("M12", smg, "9x19", 0.2), m("Cx4 Storm", rfl, "9x19", 0.3),
	}},
	{"ruger", 7, []string{"***-#####"}, []model{
		m("LCP", pst, "380acp", 3), m("LC9", pst, "9x19", 1.5), m("SR9", pst, "9x19", 1.5), m("P95", pst, "9x19", 1.5),
		m("Security-9", pst, "9x19", 1.5), m("EC9s", pst, "9x19", 1.2), m("Mark IV", pst, "22lr", 1),
		m("SP101", rev, "357mag", 1), m("GP100", rev, "357mag", 1), m("LCR", rev, "38spl", 1.2),
		m("Blackhawk", rev, "357mag", 0.8), m("Single-Six", rev, "22lr", 0.5),
		m("10/22", rfl, "22lr", 2.5), m("Mini-14", rfl, "223rem", 1), m("AR-556", rfl, "556x45", 1),
		m("American", rfl, "308win", 0.6), m("PC Carbine", rfl, "9x19", 0.4),
	}},
	{"colt", 5, []string{"FA#####", "@@#####"}, []model{
		ms("Government", pst, "45acp", 3, "FA#####"), ms("Commander", pst, "45acp", 1, "FA#####"),
		m("Mustang", pst, "380acp", 0.8), m("Python", rev, "357mag", 1), m("Detective Special", rev, "38spl", 1.5),
		m("Cobra", rev, "38spl", 1), m("Police Positive", rev, "38spl", 0.8), m("Official Police", rev, "38spl", 0.5),
		ms("AR-15", rfl, "223rem", 2, "@@######"), ms("M4 Carbine", rfl, "556x45", 1, "@@######"),
		ms("M16A1", rfl, "556x45", 0.6, "#######"), m("Single Action Army", rev, "45colt", 0.3),
	}},
	{"taurus", 5, []string{"@@@#####"}, []model{
		m("PT92", pst, "9x19", 2.5), m("G2C", pst, "9x19", 3), m("PT111 Millennium", pst, "9x19", 2),
		m("TH9", pst, "9x19", 1), m("G3", pst, "9x19", 1.5), m("PT24/7", pst, "40sw", 0.8),
		m("738 TCP", pst, "380acp", 1), m("Model 85", rev, "38spl", 2), m("Model 605", rev, "357mag", 1),
		m("Judge", rev, "45colt", 1), m("PT 840", pst, "40sw", 0.6), m("Model 82", rev, "38spl", 1),
	}},
	{"sig_sauer", 4, []string{"**@######", "@@@######"}, []model{
		m("P226", pst, "9x19", 2), m("P229", pst, "9x19", 1.2), m("P320", pst, "9x19", 3), m("P365", pst, "9x19", 3),
		m("P238", pst, "380acp", 0.8), m("P220", pst, "45acp", 0.8), m("P250", pst, "9x19", 0.5),
		m("P232", pst, "380acp", 0.4), m("SP 2022", pst, "9x19", 0.6), m("P210", pst, "9x19", 0.2),
		m("SIG516", rfl, "556x45", 0.3), m("MCX", rfl, "556x45", 0.5), m("SG 550", rfl, "556x45", 0.3),
		m("MPX", smg, "9x19", 0.3),
	}},
	{"kalashnikov", 6, []string{"^ #####", "%%####", "######"}, []model{
		m("AK-47", rfl, "762x39", 4), m("AKM", rfl, "762x39", 4), m("AKMS", rfl, "762x39", 1.5),
		m("AK-74", rfl, "545x39", 2), m("AKS-74U", rfl, "545x39", 1), m("AK-74M", rfl, "545x39", 1),
		m("AK-103", rfl, "762x39", 0.5), m("Saiga-12", sgn, "12ga", 0.8), m("Saiga-MK", rfl, "762x39", 0.6),
		m("RPK", mgn, "762x39", 0.4), m("SVD Dragunov", rfl, "762x54r", 0.3), m("PP-19 Bizon", smg, "9x18", 0.2),
	}},
	{"izhmekh", 4, []string{"%%####", "@@####", "%%###"}, []model{
		m("Makarov PM", pst, "9x18", 6), m("PMM", pst, "9x18", 0.5), m("IZh-71", pst, "380acp", 0.8),
		m("MP-654K", oth, "177air", 0.4), m("IZh-79", pst, "9pak", 0.8), m("IZh-27", sgn, "12ga", 1.2),
		m("MP-153", sgn, "12ga", 0.8), m("IZh-43", sgn, "12ga", 0.6), m("IZh-18", sgn, "12ga", 0.4),
	}},
	{"tula", 2, []string{"%%###", "%%####"}, []model{
		m("TT-33", pst, "762x25", 4), m("Nagant M1895", rev, "762nagant", 1.5), m("Mosin-Nagant M91/30", rfl, "762x54r", 1.5),
		m("TOZ-34", sgn, "12ga", 0.8), m("TOZ-8", rfl, "22lr", 0.5), m("SKS", rfl, "762x39", 0.6),
	}},
	{"norinco", 4, []string{"########", "#######", "**######"}, []model{
		m("Type 54", pst, "762x25", 2.5), m("Type 56", rfl, "762x39", 3), m("Type 56-1", rfl, "762x39", 1),
		m("NP-22", pst, "9x19", 0.8), m("Type 59", pst, "9x18", 0.7), m("Type 81", rfl, "762x39", 0.6),
		m("NP-34", pst, "9x19", 0.4), m("M1911A1", pst, "45acp", 0.6), m("Model 213", pst, "9x19", 0.8),
		m("SKS", rfl, "762x39", 1), m("Hawk 982", sgn, "12ga", 0.5), m("Type 97", rfl, "556x45", 0.3),
	}},
	{"zastava", 3, []string{"######", "@ ######"}, []model{
		m("M70", rfl, "762x39", 3), m("M70AB2", rfl, "762x39", 2), m("M57", pst, "762x25", 1.5),
		m("M88", pst, "9x19", 0.8), m("CZ 99", pst, "9x19", 0.8), m("M92", rfl, "762x39", 0.6),
		m("M84", mgn, "762x54r", 0.3), m("M76", rfl, "792x57", 0.3), m("M48", rfl, "792x57", 0.6), m("M70 pistol", pst, "32acp", 0.5),
	}},
	{"cugir", 2, []string{"@@-####-**", "1-@@####-**"}, []model{
		m("WASR-10", rfl, "762x39", 3), m("PM md. 63", rfl, "762x39", 1.5), m("PM md. 65", rfl, "762x39", 1),
		m("PM md. 90", rfl, "762x39", 0.6), m("Carpati md. 74", pst, "32acp", 0.8), m("PSL", rfl, "762x54r", 0.3),
	}},
	{"arsenal_bg", 1.5, []string{"@@######", "**@@####"}, []model{
		m("AKK", rfl, "762x39", 1.5), m("AR-M1", rfl, "556x45", 1), m("AKS-74", rfl, "545x39", 0.8),
		m("Makarov", pst, "9x18", 1.5), m("SLR-95", rfl, "762x39", 0.6), m("AR-SF", rfl, "762x39", 0.6),
	}},
	{"feg", 1, []string{"@#####", "@@####"}, []model{
		m("PA-63", pst, "9x18", 2), m("P9R", pst, "9x19", 0.8), m("AMD-65", rfl, "762x39", 1),
		m("PJK-9HP", pst, "9x19", 0.6), m("SMC-380", pst, "380acp", 0.5),
	}},
	{"radom", 1, []string{"@@#####"}, []model{
		m("P-64", pst, "9x18", 2), m("P-83 Wanad", pst, "9x18", 1), m("PM-63 RAK", smg, "9x18", 0.4),
		m("kbk AKMS", rfl, "762x39", 0.6), m("Beryl", rfl, "556x45", 0.4), m("Vis", pst, "9x19", 0.3),
	}},
	{"cz", 4, []string{"@######", "@@###", "@@@####"}, []model{
		m("CZ 75", pst, "9x19", 3), m("CZ 75 B", pst, "9x19", 2), m("CZ P-07", pst, "9x19", 1.5),
		m("CZ P-10 C", pst, "9x19", 1.5), m("CZ 83", pst, "9x18", 0.8), m("CZ 52", pst, "762x25", 0.6),
		m("vz. 58", rfl, "762x39", 1), m("CZ 455", rfl, "22lr", 0.8), m("Scorpion EVO 3", smg, "9x19", 0.5),
		m("vz. 61 Skorpion", smg, "32acp", 0.6), m("CZ 527", rfl, "223rem", 0.4), m("CZ 82", pst, "9x18", 0.6),
		m("CZ 50", pst, "32acp", 0.4),
	}},
	{"walther", 3, []string{"######@", "@@####", "@@######"}, []model{
		m("PPK", pst, "380acp", 2), m("PPK/S", pst, "380acp", 1.2), m("PP", pst, "32acp", 1.5),
		m("P99", pst, "9x19", 1.5), m("PPQ", pst, "9x19", 1.5), m("P22", pst, "22lr", 1.2), m("PDP", pst, "9x19", 0.6),
		m("P38", pst, "9x19", 0.6), m("P1", pst, "9x19", 0.6), m("CCP", pst, "9x19", 0.4), m("G22", rfl, "22lr", 0.3),
	}},
	{"hk", 3, []string{"**-######", "*@######"}, []model{
		m("USP", pst, "9x19", 2), m("USP Compact", pst, "40sw", 0.8), m("P30", pst, "9x19", 1), m("VP9", pst, "9x19", 1.5),
		m("P2000", pst, "9x19", 1), m("P7", pst, "9x19", 0.4), m("MP5", smg, "9x19", 1), m("UMP", smg, "45acp", 0.3),
		m("MP7", smg, "46x30", 0.2), m("G3", rfl, "762x51", 1), m("HK416", rfl, "556x45", 0.5),
		m("G36", rfl, "556x45", 0.6), m("HK91", rfl, "308win", 0.3), m("HK33", rfl, "556x45", 0.4),
	}},
	{"fn", 2.5, []string{"386######", "@@#####", "######"}, []model{
		ms("Browning Hi-Power", pst, "9x19", 2.5, "######"), m("Five-seveN", pst, "57x28", 0.8), m("FNS-9", pst, "9x19", 0.6),
		m("FN 509", pst, "9x19", 0.8), ms("FAL", rfl, "762x51", 1.5, "######"), m("FNC", rfl, "556x45", 0.6),
		m("P90", smg, "57x28", 0.3), m("Minimi", mgn, "556x45", 0.3), m("MAG", mgn, "762x51", 0.3),
		m("SCAR-L", rfl, "556x45", 0.3), ms("Model 1910", pst, "32acp", 0.8, "######"), m("FNX-45", pst, "45acp", 0.4),
	}},
}
