package synth

// moreProfiles are the other makers that appear regularly, with their real models.
var moreProfiles = []profile{
	{"remington", 4, []string{"@######@", "@######"}, []model{
		ms("870", sgn, "12ga", 5, "@######M"), m("870 Express", sgn, "12ga", 2), m("1100", sgn, "12ga", 1),
		m("11-87", sgn, "12ga", 1), m("700", rfl, "308win", 1.5), m("700 BDL", rfl, "3006", 0.8),
		m("597", rfl, "22lr", 0.8), m("7400", rfl, "3006", 0.5), m("783", rfl, "270win", 0.3),
		m("R51", pst, "9x19", 0.3), m("1911 R1", pst, "45acp", 0.5), m("870", sgn, "20ga", 0.6),
	}},
	{"mossberg", 4, []string{"@######", "@@######"}, []model{
		m("500", sgn, "12ga", 6), m("590", sgn, "12ga", 2), m("Maverick 88", sgn, "12ga", 2), m("835", sgn, "12ga", 0.8),
		m("500", sgn, "20ga", 1), m("500", sgn, "410bore", 0.6), m("MC1sc", pst, "9x19", 0.4),
		m("Patriot", rfl, "308win", 0.4), m("702 Plinkster", rfl, "22lr", 0.6),
	}},
	{"winchester", 3, []string{"@#######", "#######"}, []model{
		m("Model 94", rfl, "3030", 2), m("Model 70", rfl, "3006", 1.5), m("1300", sgn, "12ga", 1.5), m("SXP", sgn, "12ga", 1.2),
		m("Model 12", sgn, "12ga", 0.6), m("SX3", sgn, "12ga", 0.5), m("Model 1897", sgn, "12ga", 0.4), m("Model 1200", sgn, "12ga", 0.8),
	}},
	{"browning", 2, []string{"***@@#####", "#####@"}, []model{
		m("BAR", rfl, "3006", 1), m("A5", sgn, "12ga", 1), m("Citori", sgn, "12ga", 1), m("Buck Mark", pst, "22lr", 1.5),
		m("BPS", sgn, "12ga", 0.8), m("X-Bolt", rfl, "308win", 0.6), m("1911-22", pst, "22lr", 0.4), m("Auto-5", sgn, "12ga", 0.8),
	}},
	{"springfield", 2, []string{"@@######"}, []model{
		ms("XD-9", pst, "9x19", 2, "XD######"), ms("XD-40", pst, "40sw", 1, "XD######"), ms("XD-45", pst, "45acp", 0.8, "XD######"),
		ms("XD-M", pst, "9x19", 1, "MG######"), ms("Hellcat", pst, "9x19", 1.5, "BA######"), m("1911 Mil-Spec", pst, "45acp", 1),
		m("M1A", rfl, "308win", 0.6), m("Saint", rfl, "556x45", 0.6), ms("XD-S", pst, "45acp", 0.6, "XS######"),
	}},
	{"savage", 2, []string{"@######", "#######"}, []model{
		m("Axis", rfl, "308win", 1.5), m("110", rfl, "3006", 1), m("Mark II", rfl, "22lr", 1), m("93R17", rfl, "17hmr", 0.6),
		m("Stevens 320", sgn, "12ga", 1), m("64", rfl, "22lr", 1), m("Stevens 301", sgn, "410bore", 0.4),
	}},
	{"marlin", 1.5, []string{"########", "MR#####@"}, []model{
		m("Model 60", rfl, "22lr", 3), m("336", rfl, "3030", 1.5), m("795", rfl, "22lr", 1), m("1895", rfl, "4570", 0.5),
		m("Model 25N", rfl, "22lr", 0.5), m("1894", rfl, "44mag", 0.4),
	}},
	{"hi_point", 3, []string{"P#######", "@#######"}, []model{
		ms("C9", pst, "9x19", 4, "P#######"), ms("CF380", pst, "380acp", 2, "P8######"), ms("JCP", pst, "40sw", 1, "X7######"),
		m("JHP", pst, "45acp", 1), m("995 Carbine", rfl, "9x19", 0.8), m("4095 Carbine", rfl, "40sw", 0.4),
	}},
	{"kel_tec", 2, []string{"@@@###", "@@@@##"}, []model{
		m("P-3AT", pst, "380acp", 3), m("PF-9", pst, "9x19", 2), m("P-11", pst, "9x19", 1.5), m("P32", pst, "32acp", 1),
		m("KSG", sgn, "12ga", 0.5), m("SUB-2000", rfl, "9x19", 0.8), m("PMR-30", pst, "22wmr", 0.5),
	}},
	{"bersa", 2, []string{"######", "@#####", "@@#####"}, []model{
		m("Thunder 380", pst, "380acp", 4), m("Thunder 9", pst, "9x19", 1.5), m("Thunder 22", pst, "22lr", 0.8),
		m("TPR9", pst, "9x19", 1), m("Thunder 40", pst, "40sw", 0.5), m("Mini Thunder", pst, "9x19", 0.5),
	}},
	{"rossi", 1.5, []string{"@######", "@@######"}, []model{
		m("Model 88", rev, "38spl", 2), m("R461", rev, "357mag", 1), m("Model 971", rev, "357mag", 1),
		m("Model 68", rev, "38spl", 1), m("Puma", rfl, "357mag", 0.6), m("RS22", rfl, "22lr", 0.4), m("Circuit Judge", rfl, "45colt", 0.3),
	}},
	{"imbel", 1, []string{"@#####", "@@####"}, []model{
		m("MD97", rfl, "556x45", 1), m("FAL", rfl, "762x51", 1), m("GC MD1", pst, "45acp", 0.8), m("IA2", rfl, "556x45", 0.6),
		m("MD1", pst, "9x19", 0.6),
	}},
	{"iwi", 1.5, []string{"@@#####", "@######"}, []model{
		m("Jericho 941", pst, "9x19", 2.5), m("Tavor", rfl, "556x45", 0.8), m("Uzi", smg, "9x19", 1.5),
		m("Galil ACE", rfl, "762x39", 0.6), m("Masada", pst, "9x19", 0.5), m("Negev", mgn, "556x45", 0.2),
		m("Galil", rfl, "556x45", 0.8), m("Mini Uzi", smg, "9x19", 0.4), m("Desert Eagle", pst, "50ae", 0.3),
	}},
	{"canik", 1.5, []string{"T6472-**-#####", "**@@#####"}, []model{
		m("TP9SF", pst, "9x19", 3), m("TP9 Elite", pst, "9x19", 1.5), m("METE SFT", pst, "9x19", 1), m("TP9SA", pst, "9x19", 1.2),
	}},
	{"sarsilmaz", 1.2, []string{"T1102-**-#####", "@######"}, []model{
		m("SAR9", pst, "9x19", 2), m("K2P", pst, "9x19", 1.5), m("B6", pst, "9x19", 1.5), m("Kilinc 2000", pst, "9x19", 1.5),
		m("SAR 109T", pst, "9x19", 0.5), m("ST10", pst, "9x19", 0.5),
	}},
	{"girsan", 1, []string{"T0624-**-#####", "@@######"}, []model{
		m("MC28SA", pst, "9x19", 2), m("Regard MC", pst, "9x19", 1.5), m("MC1911", pst, "45acp", 1), m("Yavuz 16", pst, "9x19", 1),
	}},
	{"tisas", 0.8, []string{"T0620-**-#####", "@@######"}, []model{
		m("Zigana F", pst, "9x19", 1.5), m("1911 A1", pst, "45acp", 1.5), m("Zigana PX-9", pst, "9x19", 1), m("Fatih 13", pst, "380acp", 0.5),
	}},
	{"akdal", 0.5, []string{"@@######"}, []model{m("Ghost TR01", pst, "9x19", 2), m("MKA 1919", sgn, "12ga", 1)}},
	{"hatsan", 1, []string{"@######", "######"}, []model{
		m("Escort", sgn, "12ga", 3), m("MP-A Supreme", sgn, "12ga", 1), m("Escort Aimguard", sgn, "12ga", 1),
		m("Escort Magnum", sgn, "12ga", 1), m("Mod 125", oth, "177air", 0.8),
	}},
	{"atak", 1.5, []string{"######", "@@######"}, []model{
		m("Zoraki 917", pst, "9pak", 3), m("Zoraki 914", pst, "9pak", 2), m("Zoraki 925", smg, "9pak", 1),
		m("Zoraki 2918", pst, "9pak", 0.8), m("Zoraki 917", pst, "380acp", 1), m("Zoraki R1", rev, "9pak", 0.5),
	}},
	{"ekol", 1, []string{"######", "@#######"}, []model{
		m("Jackal Dual", pst, "9pak", 2), m("Firat Compact", pst, "9pak", 1.5), m("Viper 2.5", rev, "9pak", 0.5),
		m("Lady", pst, "9pak", 0.5),
	}},
	{"retay", 1, []string{"@@######"}, []model{
		m("84FS", pst, "9pak", 2), m("G17", pst, "9pak", 2), m("Mod 92", pst, "9pak", 1.5), m("Falcon", sgn, "12ga", 0.3),
	}},
	{"bruni", 0.5, []string{"#####", "@#####"}, []model{m("Bruni 92", pst, "9pak", 1.5), m("Bruni 96", pst, "9pak", 1), m("Bruni GAP", pst, "9pak", 1)}},
	{"molot", 0.7, []string{"%%####", "@@####"}, []model{
		m("Vepr-12", sgn, "12ga", 1.5), m("Vepr", rfl, "762x39", 1.5), m("Vepr .308", rfl, "308win", 0.5), m("RPK", mgn, "762x39", 0.3),
	}},
	{"degtyarev", 0.3, []string{"%%###", "####"}, []model{
		m("RPD", mgn, "762x39", 1), m("DP-27", mgn, "762x54r", 1), m("Kord", mgn, "127x108", 0.3),
		m("DShK", mgn, "127x108", 0.6), m("PKM", mgn, "762x54r", 1.5), m("PPSh-41", smg, "762x25", 1),
	}},
	{"colt_canada", 0.3, []string{"@@######"}, []model{m("C7", rfl, "556x45", 1), m("C8", rfl, "556x45", 1)}},
	{"steyr", 1.5, []string{"@######", "******@"}, []model{
		m("AUG", rfl, "556x45", 1.5), m("M9-A1", pst, "9x19", 1.5), m("Scout", rfl, "308win", 0.5), m("SSG 69", rfl, "308win", 0.5),
		m("GB", pst, "9x19", 0.4), m("Mannlicher M1895", rfl, "8x56r", 0.8), m("L9-A1", pst, "9x19", 0.4),
	}},
	{"mauser", 1, []string{"####", "#####@", "######"}, []model{
		m("C96", pst, "763mauser", 1), m("Kar98k", rfl, "792x57", 2), m("HSc", pst, "32acp", 1), m("M98", rfl, "792x57", 1),
		m("Model 1914", pst, "32acp", 0.8), m("M03", rfl, "3006", 0.3),
	}},
	{"sako", 1, []string{"@######", "######"}, []model{m("85", rfl, "308win", 1), m("TRG-22", rfl, "308win", 0.5), m("75", rfl, "3006", 1), m("A7", rfl, "308win", 0.6)}},
	{"tikka", 1, []string{"@@######", "######"}, []model{m("T3x", rfl, "308win", 2), m("T3 Lite", rfl, "65creed", 1), m("T1x", rfl, "22lr", 0.6), m("M595", rfl, "243win", 0.4)}},
	{"benelli", 1.5, []string{"@@######@", "@######"}, []model{
		m("M4", sgn, "12ga", 1.5), m("M2", sgn, "12ga", 1), m("Supernova", sgn, "12ga", 1), m("Nova", sgn, "12ga", 1.5),
		m("Raffaello", sgn, "12ga", 0.6), m("Montefeltro", sgn, "12ga", 0.6), m("MR1", rfl, "556x45", 0.3),
	}},
	{"franchi", 0.7, []string{"@@#####", "######"}, []model{m("SPAS-12", sgn, "12ga", 1), m("Affinity", sgn, "12ga", 1), m("Affinity", sgn, "20ga", 0.5), m("LAW-12", sgn, "12ga", 0.4)}},
	{"tanfoglio", 0.6, []string{"@######", "@@#####"}, []model{m("Force 99", pst, "9x19", 1), m("Stock II", pst, "9x19", 0.8), m("GT27", pst, "25acp", 1), m("TA90", pst, "9x19", 0.6)}},
	{"daewoo", 0.3, []string{"@@######"}, []model{m("DP51", pst, "9x19", 1), m("K2", rfl, "556x45", 1), m("K1", rfl, "556x45", 0.6), m("K5", pst, "9x19", 0.6)}},
	{"armscor", 1, []string{"RIA#######", "@@######"}, []model{
		m("M1911 A1", pst, "45acp", 2), m("M206", rev, "38spl", 1.5), m("M30", sgn, "12ga", 1), m("M1600", rfl, "22lr", 0.8),
		m("MAPP", pst, "9x19", 0.5), m("M200", rev, "38spl", 1),
	}},
	{"denel", 0.5, []string{"@######", "@@####"}, []model{m("Vektor Z88", pst, "9x19", 1.5), m("Vektor SP1", pst, "9x19", 1), m("R4", rfl, "556x45", 1), m("R5", rfl, "556x45", 0.5), m("CP1", pst, "9x19", 0.3)}},
	{"llama", 1, []string{"######", "@######"}, []model{m("Max-I", pst, "45acp", 1), m("Micromax", pst, "380acp", 1), m("III-A", pst, "380acp", 1), m("Model XV", pst, "22lr", 0.5), m("Martial", rev, "38spl", 0.5)}},
	{"star", 1, []string{"######", "@@####"}, []model{m("BM", pst, "9x19", 1), m("Firestar", pst, "9x19", 1), m("Model B", pst, "9x19", 1), m("Model S", pst, "380acp", 0.6), m("Z-84", smg, "9x19", 0.2)}},
	{"astra", 1, []string{"######", "@#####"}, []model{m("400", pst, "9x23largo", 0.6), m("A-75", pst, "9x19", 1), m("Constable", pst, "380acp", 1), m("Cadix", rev, "38spl", 0.6), m("A-100", pst, "9x19", 0.6)}},
	{"lorcin", 0.5, []string{"@######", "L######"}, []model{m("L380", pst, "380acp", 2), m("L25", pst, "25acp", 1.5), m("L9mm", pst, "9x19", 0.8), m("L22", pst, "22lr", 0.6)}},
	{"raven", 0.4, []string{"######"}, []model{m("MP-25", pst, "25acp", 2), m("P-25", pst, "25acp", 1)}},
	{"jimenez", 0.4, []string{"######"}, []model{m("JA-380", pst, "380acp", 2), m("JA-9", pst, "9x19", 1), m("JA-22", pst, "22lr", 1)}},
	{"bryco", 0.5, []string{"######", "@######"}, []model{m("Jennings J-22", pst, "22lr", 1.5), m("Bryco 38", pst, "380acp", 1.5), m("Bryco 59", pst, "9x19", 1), m("Bryco 48", pst, "380acp", 0.5)}},
	{"phoenix", 0.3, []string{"#######"}, []model{m("HP22", pst, "22lr", 1), m("HP25", pst, "25acp", 1), m("Raven", pst, "25acp", 0.5)}},
	{"davis", 0.3, []string{"@######", "######"}, []model{m("P-380", pst, "380acp", 1.5), m("P-32", pst, "32acp", 1), m("D-38 Derringer", pst, "38spl", 0.6)}},
	{"harrington_richardson", 0.6, []string{"@@######", "@######"}, []model{m("Model 929", rev, "22lr", 1), m("Pardner", sgn, "12ga", 1), m("Topper", sgn, "12ga", 1.5), m("Model 732", rev, "32swl", 0.8), m("Model 733", rev, "32swl", 0.4)}},
	{"iver_johnson", 0.4, []string{"@####", "#####"}, []model{m("Safety Hammer", rev, "32sw", 1), m("Model 1900", rev, "22lr", 0.8), m("Champion", sgn, "12ga", 0.8), m("Cadet", rev, "38spl", 0.4)}},
	{"charter_arms", 0.8, []string{"#######", "@@#####"}, []model{m("Undercover", rev, "38spl", 2), m("Bulldog", rev, "44spl", 1), m("Pathfinder", rev, "22lr", 0.6), m("Off Duty", rev, "38spl", 0.8), m("Undercoverette", rev, "32hr", 0.4)}},
	{"sccy", 0.8, []string{"C######", "@@######"}, []model{m("CPX-1", pst, "9x19", 1), m("CPX-2", pst, "9x19", 2), m("DVG-1", pst, "9x19", 0.5), m("CPX-3", pst, "380acp", 0.4)}},
	{"kimber", 0.6, []string{"K######", "@@######"}, []model{m("Micro 9", pst, "9x19", 1), m("Custom II", pst, "45acp", 1), m("Ultra Carry II", pst, "45acp", 0.6), m("Solo", pst, "9x19", 0.3)}},
	{"polymer80", 1, []string{"@@#######"}, []model{m("PF940C", pst, "9x19", 2), m("PF940V2", pst, "9x19", 1.5), m("PF45", pst, "45acp", 0.8), m("PF940SC", pst, "9x19", 0.8), m("PF-AR15", rfl, "556x45", 0.5)}},
	{"intratec", 0.4, []string{"@######", "######"}, []model{m("TEC-9", pst, "9x19", 1.5), m("TEC-DC9", pst, "9x19", 1.5), m("AB-10", pst, "9x19", 0.8), m("TEC-22", pst, "22lr", 0.5)}},
	{"bushmaster", 0.6, []string{"@@######"}, []model{m("XM-15", rfl, "556x45", 2), m("ACR", rfl, "556x45", 0.3), m("Carbon 15", rfl, "223rem", 0.5)}},
	{"dpms", 0.4, []string{"@@######", "@######"}, []model{m("Panther A-15", rfl, "223rem", 1.5), m("LR-308", rfl, "308win", 0.8), m("Oracle", rfl, "556x45", 0.5)}},
	{"armalite", 0.2, []string{"@@######"}, []model{m("AR-10", rfl, "308win", 1), m("M-15", rfl, "223rem", 1)}},
	{"barrett", 0.2, []string{"#####"}, []model{m("M82A1", rfl, "50bmg", 1.5), m("M107A1", rfl, "50bmg", 0.8), m("M95", rfl, "50bmg", 0.6), m("MRAD", rfl, "338lapua", 0.4)}},
	{"century", 0.4, []string{"@@######", "RAS47######"}, []model{m("RAS47", rfl, "762x39", 1.5), m("C39V2", rfl, "762x39", 1), m("VSKA", rfl, "762x39", 1), m("Draco", pst, "762x39", 1)}},
	{"psa", 0.4, []string{"PSA#######", "@@######"}, []model{m("PA-15", rfl, "556x45", 2), m("PSAK-47", rfl, "762x39", 1), m("Dagger", pst, "9x19", 1)}},
	{"magnum_research", 0.3, []string{"@@#######", "DK######"}, []model{m("Desert Eagle", pst, "50ae", 1), m("Desert Eagle", pst, "44mag", 0.8), m("Baby Eagle", pst, "9x19", 1)}},
	{"auto_ordnance", 0.2, []string{"@@#####", "KT#####"}, []model{m("Thompson M1928", smg, "45acp", 0.5), m("1927A1", rfl, "45acp", 1), m("M1 Carbine", rfl, "30carbine", 1), m("1911A1", pst, "45acp", 1)}},
	{"kahr", 0.3, []string{"@@####", "@@@####"}, []model{m("CW9", pst, "9x19", 1.5), m("PM9", pst, "9x19", 1), m("CM9", pst, "9x19", 1), m("P380", pst, "380acp", 1)}},
	{"heritage", 0.3, []string{"@######"}, []model{m("Rough Rider", rev, "22lr", 2), m("Barkeep", rev, "22lr", 0.5)}},
	{"naa", 0.3, []string{"@#####", "######"}, []model{m("Mini-Revolver", rev, "22lr", 2), m("Mini-Revolver", rev, "22wmr", 1), m("Guardian", pst, "380acp", 1)}},
	{"henry", 0.3, []string{"######@", "@@######"}, []model{m("H001", rfl, "22lr", 2), m("Big Boy", rfl, "44mag", 1), m("Golden Boy", rfl, "22lr", 1)}},
	{"stoeger", 0.4, []string{"@######", "@@######"}, []model{m("Cougar 8000", pst, "9x19", 1), m("Condor", sgn, "12ga", 1.5), m("M3000", sgn, "12ga", 1), m("STR-9", pst, "9x19", 1), m("Coach Gun", sgn, "12ga", 1)}},
	{"diamondback", 0.2, []string{"@@####", "@@@####"}, []model{m("DB380", pst, "380acp", 1.5), m("DB9", pst, "9x19", 1.5), m("DB15", rfl, "556x45", 1)}},
	{"cobra", 0.2, []string{"CT######", "@@######"}, []model{m("CA-380", pst, "380acp", 1.5), m("CA-32", pst, "32acp", 1), m("Derringer", pst, "38spl", 0.5)}},
	{"rohm", 0.4, []string{"@######", "######"}, []model{m("RG-14", rev, "22lr", 2), m("RG 38S", rev, "38spl", 1), m("RG-88", rev, "357mag", 0.5), m("RG 96", pst, "9pak", 0.8)}},
	{"umarex", 0.3, []string{"@@######", "######"}, []model{m("Walther PPK/S", oth, "177air", 1), m("Colt M4 Ops", rfl, "22lr", 0.6), m("SA 9", pst, "9pak", 0.6)}},
	{"reck", 0.2, []string{"######"}, []model{m("Miami 92F", pst, "9pak", 1), m("Goliath", rev, "9pak", 0.5)}},
	{"weihrauch", 0.2, []string{"@######", "######"}, []model{m("HW 7", rev, "22lr", 1), m("HW 38", rev, "38spl", 0.8), m("HW 94", pst, "9pak", 0.6)}},
	{"ofb", 0.5, []string{"@@####", "####"}, []model{m("Ishapore 2A1", rfl, "762x51", 1), m("INSAS", rfl, "556x45", 1), m("Webley Mk IV copy", rev, "38sw", 0.6), m(".32 Revolver", rev, "32swl", 1)}},
	{"darra", 0.4, []string{"####", "#####"}, []model{m("AK copy", rfl, "762x39", 2), m("TT copy", pst, "762x25", 1.5), m("Enfield copy", rfl, "303british", 0.6), m("pen gun", oth, "22lr", 0.2)}},
	{"enfield", 0.4, []string{"@####", "####@"}, []model{m("Lee-Enfield No. 4 Mk I", rfl, "303british", 2), m("SMLE No. 1 Mk III", rfl, "303british", 1.5), m("Enfield No. 2", rev, "38sw", 0.8), m("Sten Mk II", smg, "9x19", 0.5)}},
	{"webley", 0.3, []string{"#####", "@####"}, []model{m("Mk VI", rev, "455webley", 1), m("Mk IV", rev, "38sw", 1), m("Model 1906", pst, "32acp", 0.4)}},
	{"maadi", 0.3, []string{"######", "@######"}, []model{m("Helwan", pst, "9x19", 1.5), m("Misr", rfl, "762x39", 1.5), m("ARM", rfl, "762x39", 0.6)}},
	{"polytech", 0.3, []string{"########", "@@#####"}, []model{m("Legend AK-47S", rfl, "762x39", 1), m("M14S", rfl, "308win", 0.5)}},
	{"jianshe", 0.2, []string{"########"}, []model{m("Type 56", rfl, "762x39", 1), m("Type 54", pst, "762x25", 0.8)}},
	{"pof", 0.4, []string{"@@####", "######"}, []model{m("G3P4", rfl, "762x51", 1), m("MP5 (POF)", smg, "9x19", 0.8), m("PK-09", pst, "9x19", 0.5)}},
	{"dio", 0.2, []string{"######"}, []model{m("KL-7.62", rfl, "762x39", 1), m("G3 (DIO)", rfl, "762x51", 0.6), m("Tondar", smg, "9x19", 0.3)}},
	{"fort", 0.4, []string{"%%####", "@@####"}, []model{m("Fort-12", pst, "9x18", 2), m("Fort-14", pst, "9x18", 0.6), m("Fort-17", pst, "9x18", 0.4), m("Fort-500", sgn, "12ga", 0.5)}},
	{"polican", 0.3, []string{"######", "^####"}, []model{m("Type 56 (ASH-78)", rfl, "762x39", 1)}},
}

// minorKinds gives, for makers with no model list, the types they are recorded with; their
// records get generic models and calibres for the type. Makers in neither table are treated as
// makers of pistols and rifles.
var minorKinds = map[string][]string{
	"kbp": {pst, rfl}, "arcus": {pst}, "squires_bingham": {rev, sgn}, "pindad": {rfl, pst}, "bul": {pst},
	"mke": {rfl, pst}, "huglu": {sgn}, "armsan": {sgn}, "ata_arms": {sgn}, "derya": {sgn},
	"bernardelli": {pst, sgn}, "pietta": {rev}, "uberti": {rev, rfl}, "fabarm": {sgn}, "perazzi": {sgn},
	"chiappa": {rev, rfl}, "kimar": {pst}, "sabatti": {sgn, rfl}, "rizzini": {sgn}, "pardini": {pst},
	"sauer": {rfl, pst}, "anschutz": {rfl}, "merkel": {sgn, rfl}, "krieghoff": {sgn}, "blaser": {rfl},
	"haenel": {rfl, smg}, "heym": {rfl}, "korth": {rev}, "erma": {smg, pst}, "ernst_thalmann": {pst, rfl},
	"brno": {rfl, sgn}, "alfa_proj": {rev}, "grand_power": {pst}, "hs_produkt": {pst}, "voere": {rfl},
	"valmet": {rfl}, "husqvarna": {rfl, pst}, "carl_gustaf": {smg, rfl}, "kongsberg": {rfl},
	"schultz_larsen": {rfl}, "santa_barbara": {rfl}, "aya": {sgn}, "lanber": {sgn}, "unique": {pst},
	"mas": {pst, rfl}, "mat": {smg}, "manurhin": {rev, pst}, "verney_carron": {sgn, rfl}, "chapuis": {sgn, rfl},
	"bsa": {rfl, oth}, "holland_holland": {sgn, rfl}, "purdey": {sgn}, "accuracy_international": {rfl},
	"lithgow": {rfl}, "para_ordnance": {pst}, "truvelo": {rfl}, "milkor": {oth}, "swiss_arms": {rfl, pst},
	"bt": {smg, rfl}, "hammerli": {pst}, "cbc": {rfl, sgn}, "boito": {sgn}, "fm_ar": {pst, rfl},
	"famae": {rfl, smg}, "indumil": {rev, pst}, "mic_sd": {rfl}, "al_qadissiya": {rfl, pst},
	"st_kinetics": {rfl, mgn}, "minebea": {rev, pst}, "howa": {rfl}, "miroku": {sgn}, "high_standard": {pst},
	"daniel_defense": {rfl}, "dan_wesson": {rev, pst}, "thompson_center": {rfl}, "ithaca": {sgn},
	"weatherby": {rfl}, "ati": {rfl, pst}, "anderson": {rfl}, "rock_river": {rfl}, "bond_arms": {pst},
	"freedom_arms": {rev}, "amt": {pst}, "wilson_combat": {pst},
}

// genericModels are used for makers without a model list; an empty name means the model field
// is left empty, as it often is in real records.
var genericModels = map[string][]string{
	pst: {"", "", "Compact", "Standard", "1911", "Model 92", "P-9", "Sport"},
	rev: {"", "", "Model 38", "Police", "Target", "Model 357"},
	rfl: {"", "", "Sporter", "Hunter", "Target", "Model 98", "Semi-auto carbine"},
	sgn: {"", "", "Over/Under", "Side-by-side", "Pump", "Semi-auto", "Single barrel"},
	smg: {"", "Model 1", "SMG"},
	mgn: {"", "GPMG", "LMG"},
	oth: {"", "Flare pistol", "Air rifle", "Launcher"},
}

// genericCalibres are calibre class ids with weights per type, for generic models.
var genericCalibres = map[string][]weighted{
	pst: {{"9x19", 6}, {"380acp", 2}, {"45acp", 1}, {"40sw", 1}, {"32acp", 1}, {"25acp", 0.5}, {"22lr", 0.5}, {"9x18", 1}, {"762x25", 0.5}},
	rev: {{"38spl", 4}, {"357mag", 2}, {"22lr", 1}, {"32swl", 0.5}, {"44mag", 0.3}, {"38sw", 0.5}, {"45colt", 0.3}},
	rfl: {{"762x39", 3}, {"556x45", 2}, {"223rem", 1.5}, {"308win", 1.5}, {"3006", 1}, {"22lr", 2}, {"762x54r", 1}, {"792x57", 0.7}, {"303british", 0.5}, {"270win", 0.3}, {"243win", 0.3}, {"93x62", 0.3}, {"7x64", 0.3}},
	sgn: {{"12ga", 7}, {"20ga", 2}, {"16ga", 1}, {"410bore", 0.7}, {"28ga", 0.2}},
	smg: {{"9x19", 4}, {"45acp", 1}, {"9x18", 0.5}, {"762x25", 0.5}},
	mgn: {{"762x54r", 2}, {"762x39", 1}, {"762x51", 1.5}, {"556x45", 1}, {"50bmg", 0.3}, {"127x108", 0.5}},
	oth: {{"177air", 2}, {"9pak", 2}, {"40x46", 0.3}, {"flare26", 0.5}},
}

// minorSerials are the patterns a maker without its own gets; one is picked per maker.
var minorSerials = []string{"######", "@######", "@@#####", "**@#####", "@@@####", "#####", "@####@"}

// minorWeight is the relative frequency of a maker in neither profile table: the long tail.
const minorWeight = 0.12
