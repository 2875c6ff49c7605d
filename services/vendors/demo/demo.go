// Package demo loads a small, realistic German set of vendors into an empty
// vendor registry, next to the demo needs of services/needs/demo: civic-tech
// associations, start-ups and SMEs across several Länder, with products
// under SPDX licences, public-sector references and certifications such as
// ISO 27001, BSI C5 and BITV 2.0. The organisations, towns' references and
// products are invented for the demo; the places, codes and standards are
// real.
package demo

import (
	"context"
	"errors"
	"fmt"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/services/vendors/profile"
)

// vendors are created by their own organisations (role vendor), so each
// vendor's id is its organisation id and the vendor owns its profile.
var vendors = []struct {
	org    string
	fields profile.Fields
}{
	{
		org: "terminfix",
		fields: profile.Fields{
			DisplayName: "TerminFix GmbH", Kind: profile.KindStartUp, FoundingYear: 2021, SizeBand: profile.SizeMicro,
			Headquarters: "06531005", RegionsServed: []string{"Hessen", "DE9"}, Languages: []string{"de", "en"},
			Website:      "https://terminfix.example",
			Description:  "Online-Terminbuchung für Bürgerbüros und Zulassungsstellen: barrierefrei nach BITV 2.0, DSGVO-konform in Deutschland gehostet, mit Schnittstellen zu gängigen Einwohnermelde-Fachverfahren.",
			Capabilities: []string{"Terminbuchung", "Barrierefreiheit", "Fachverfahren-Anbindung"},
			CPVCodes:     []string{"72212000", "48000000"},
			Products: []profile.Product{{
				Name: "TerminFix", Description: "Terminbuchung als Dienst mit Aufrufsystem und Wartezeitanzeige.",
				Maturity: profile.MaturityInProduction, Hosting: profile.HostingGermany, Licence: "AGPL-3.0-or-later",
			}},
			References: []profile.Reference{
				{ClientOrganization: "Stadt Wetzlar", Year: 2024, Delivered: "Online-Terminbuchung im Bürgerbüro", Outcome: "Wartezeit im Bürgerbüro halbiert"},
				{ClientOrganization: "Landkreis Gießen", Year: 2025, Delivered: "Terminbuchung der Kfz-Zulassungsstelle"},
			},
			Certifications: []string{"ISO 27001", "BITV 2.0"},
		},
	},
	{
		org: "codefor-giessen",
		fields: profile.Fields{
			DisplayName: "Code for Gießen e.V.", Kind: profile.KindCivicTech, FoundingYear: 2017, SizeBand: profile.SizeMicro,
			Headquarters: "06531005", RegionsServed: []string{"06531", "06534"}, Languages: []string{"de"},
			Website:      "https://codefor-giessen.example",
			Description:  "Ehrenamtliches Lab im Netzwerk Code for Germany: Open-Data-Anwendungen, Datenworkshops für Verwaltungen und offene Prototypen für die Region Mittelhessen.",
			Capabilities: []string{"Open Data", "Prototyping", "Datenkompetenz"},
			CPVCodes:     []string{"72322000", "80500000"},
			Products: []profile.Product{{
				Name: "Baustellen-Radar", Description: "Karte der Baustellen und Sperrungen aus offenen Daten der Stadt.",
				Maturity: profile.MaturityPilotReady, Hosting: profile.HostingEU, Licence: "MIT",
			}},
			References: []profile.Reference{{ClientOrganization: "Universitätsstadt Gießen", Year: 2023, Delivered: "Datenworkshop und Open-Data-Strategie", Outcome: "Zwölf neue Datensätze veröffentlicht"}},
		},
	},
	{
		org: "offene-daten-werkstatt",
		fields: profile.Fields{
			DisplayName: "Offene Daten Werkstatt eG", Kind: profile.KindSME, FoundingYear: 2014, SizeBand: profile.SizeSmall,
			Headquarters: "05315000", Nationwide: true, Languages: []string{"de", "en"},
			Website:      "https://offene-daten-werkstatt.example",
			Description:  "Genossenschaft für Open-Data-Portale auf Basis von CKAN und DCAT-AP.de: Migration, Betrieb in deutschen Rechenzentren und Schulungen für Datenverantwortliche.",
			Capabilities: []string{"Open Data", "CKAN", "DCAT-AP.de", "Betrieb"},
			CPVCodes:     []string{"72322000", "48610000", "72510000"},
			Products: []profile.Product{{
				Name: "Datenportal Kommunal", Description: "Mandantenfähiges Open-Data-Portal mit Harvesting nach GovData.",
				Maturity: profile.MaturityInProduction, Hosting: profile.HostingGermany, Licence: "AGPL-3.0-only",
			}},
			References: []profile.Reference{
				{ClientOrganization: "Stadt Bonn", Year: 2022, Delivered: "Migration des Open-Data-Portals auf CKAN", Outcome: "Harvesting durch GovData"},
				{ClientOrganization: "Freie Hansestadt Bremen", Year: 2024, Delivered: "Betrieb des Transparenzportals"},
			},
			Certifications: []string{"ISO 27001"},
		},
	},
	{
		org: "pegelwacht",
		fields: profile.Fields{
			DisplayName: "PegelWacht UG (haftungsbeschränkt)", Kind: profile.KindStartUp, FoundingYear: 2022, SizeBand: profile.SizeMicro,
			Headquarters: "14612000", RegionsServed: []string{"DED", "DEG", "Bayern"}, Languages: []string{"de"},
			Website:      "https://pegelwacht.example",
			Description:  "Funkvernetzte Pegel- und Niederschlagssensoren (LoRaWAN) für kleine Gewässer und Kanäle, mit Frühwarnung per App, Sirene und Cell Broadcast und offenen Messdaten.",
			Capabilities: []string{"Sensorik", "LoRaWAN", "Starkregenvorsorge", "Open Data"},
			CPVCodes:     []string{"32441000", "38000000", "48000000"},
			Products: []profile.Product{
				{Name: "PegelWacht Sensor", Description: "Ultraschallpegel mit Solarversorgung.", Maturity: profile.MaturityPilotReady, Hosting: profile.HostingOnPremises, Licence: "CERN-OHL-S-2.0"},
				{Name: "PegelWacht Cloud", Description: "Dashboard und Warnregeln.", Maturity: profile.MaturityPilotReady, Hosting: profile.HostingGermany, Licence: "LicenseRef-proprietary"},
			},
			References: []profile.Reference{{ClientOrganization: "Gemeinde Glashütte", Year: 2024, Delivered: "Pilot mit acht Pegelsensoren am Briesnitzbach"}},
		},
	},
	{
		org: "formwerk",
		fields: profile.Fields{
			DisplayName: "Formwerk Digital GmbH", Kind: profile.KindSME, FoundingYear: 2011, SizeBand: profile.SizeMedium,
			Headquarters: "08212000", Nationwide: true, Remote: true, Languages: []string{"de", "en", "fr"},
			Website:      "https://formwerk.example",
			Description:  "Formularbaukasten für OZG-Leistungen mit XÖV-Schnittstellen (XFall, XZuFi), Anbindung an Servicekonten und Nachnutzung nach dem Einer-für-Alle-Prinzip.",
			Capabilities: []string{"OZG", "XÖV", "Barrierefreiheit", "Formulare"},
			CPVCodes:     []string{"72212000", "72413000"},
			Products: []profile.Product{{
				Name: "Formwerk", Description: "Low-Code-Formulare, BITV-geprüft.",
				Maturity: profile.MaturityInProduction, Hosting: profile.HostingGermany, Licence: "EUPL-1.2",
			}},
			References: []profile.Reference{
				{ClientOrganization: "Ministerium des Innern Baden-Württemberg", Year: 2023, Delivered: "EfA-Leistung Gewerbeanmeldung", Outcome: "Von 14 Ländern nachgenutzt"},
				{ClientOrganization: "Stadt Limburg a. d. Lahn", Year: 2025, Delivered: "Barrierefreie Antragsformulare"},
			},
			Certifications: []string{"ISO 27001", "BSI C5", "BITV 2.0"},
		},
	},
	{
		org: "posteingang-ai",
		fields: profile.Fields{
			DisplayName: "Posteingang AI GmbH", Kind: profile.KindStartUp, FoundingYear: 2023, SizeBand: profile.SizeSmall,
			Headquarters: "11000000", Nationwide: true, Remote: true, Languages: []string{"de", "en"},
			Website:      "https://posteingang-ai.example",
			Description:  "KI-gestützte Vorsortierung von Post- und E-Mail-Eingängen für Behörden: Klassifikation, Zuständigkeit, Fristerkennung; Sprachmodelle ausschließlich in deutschen Rechenzentren.",
			Capabilities: []string{"Künstliche Intelligenz", "Dokumentenerkennung", "E-Akte"},
			CPVCodes:     []string{"72000000", "48000000"},
			Products: []profile.Product{{
				Name: "Eingangsradar", Description: "Klassifiziert Eingänge und schlägt Zuständigkeiten vor.",
				Maturity: profile.MaturityPilotReady, Hosting: profile.HostingGermany, Licence: "LicenseRef-proprietary",
			}},
			References:     []profile.Reference{{ClientOrganization: "Bezirksamt Pankow", Year: 2025, Delivered: "Pilot im Bürgeramt", Outcome: "Durchlaufzeit um 40 % gesenkt"}},
			Certifications: []string{"BSI C5", "ISO 27001"},
		},
	},
	{
		org: "lieferzone",
		fields: profile.Fields{
			DisplayName: "Lieferzone Hamburg GmbH", Kind: profile.KindStartUp, FoundingYear: 2020, SizeBand: profile.SizeSmall,
			Headquarters: "02000000", RegionsServed: []string{"Hamburg", "Schleswig-Holstein", "DE9"}, Languages: []string{"de", "en"},
			Website:      "https://lieferzone.example",
			Description:  "Erfassung der Belegung von Lieferzonen und Parkflächen mit datensparsamen Sensoren; Anzeige für Lieferdienste und Auswertungen für die Verkehrsplanung.",
			Capabilities: []string{"Parkraummanagement", "Sensorik", "Mobilität"},
			CPVCodes:     []string{"34970000", "72000000"},
			Products: []profile.Product{{
				Name: "ZoneFree", Description: "Belegung von Lieferzonen in Echtzeit.",
				Maturity: profile.MaturityInProduction, Hosting: profile.HostingEU, Licence: "Apache-2.0",
			}},
			References: []profile.Reference{{ClientOrganization: "Landesbetrieb Verkehr Hamburg", Year: 2024, Delivered: "Pilot mit 20 Lieferzonen in Ottensen"}},
		},
	},
	{
		org: "civitas-beteiligung",
		fields: profile.Fields{
			DisplayName: "Civitas Beteiligung e.V.", Kind: profile.KindNGO, FoundingYear: 2016, SizeBand: profile.SizeSmall,
			Headquarters: "09162000", RegionsServed: []string{"Bayern", "Baden-Württemberg"}, Languages: []string{"de"},
			Website:      "https://civitas-beteiligung.example",
			Description:  "Gemeinnütziger Verein für digitale Bürgerbeteiligung: betreibt die freie Beteiligungsplattform, moderiert Verfahren und schult Verwaltungen.",
			Capabilities: []string{"Bürgerbeteiligung", "Moderation", "Open Source"},
			CPVCodes:     []string{"72212000", "79400000"},
			Products: []profile.Product{{
				Name: "Mitreden", Description: "Beteiligungsplattform für Umfragen, Ideenkarten und Bauleitplanung.",
				Maturity: profile.MaturityInProduction, Hosting: profile.HostingGermany, Licence: "AGPL-3.0-or-later",
			}},
			References:     []profile.Reference{{ClientOrganization: "Landeshauptstadt München", Year: 2023, Delivered: "Online-Beteiligung zum Radentscheid", Outcome: "8.000 Beiträge ausgewertet"}},
			Certifications: []string{"BITV 2.0"},
		},
	},
	{
		org: "geodaten-kontor",
		fields: profile.Fields{
			DisplayName: "Geodaten-Kontor Nord GmbH", Kind: profile.KindSME, FoundingYear: 2008, SizeBand: profile.SizeSmall,
			Headquarters: "01002000", RegionsServed: []string{"Schleswig-Holstein", "Mecklenburg-Vorpommern", "Niedersachsen"}, Languages: []string{"de", "da"},
			Website:      "https://geodaten-kontor.example",
			Description:  "Geodateninfrastruktur für Kommunen: Geoportale, INSPIRE-konforme Dienste, Digitalisierung von Bebauungsplänen nach XPlanung.",
			Capabilities: []string{"GIS", "XPlanung", "INSPIRE", "Geoportal"},
			CPVCodes:     []string{"72000000", "71354000"},
			Products: []profile.Product{{
				Name: "Kontor Geoportal", Description: "Geoportal auf Basis von Masterportal und GeoServer.",
				Maturity: profile.MaturityInProduction, Hosting: profile.HostingGermany, Licence: "GPL-3.0-or-later",
			}},
			References: []profile.Reference{
				{ClientOrganization: "Landeshauptstadt Kiel", Year: 2021, Delivered: "Digitalisierung von 300 Bebauungsplänen nach XPlanung"},
				{ClientOrganization: "Landkreis Vorpommern-Greifswald", Year: 2024, Delivered: "Geoportal des Kreises"},
			},
			Certifications: []string{"ISO 9001"},
		},
	},
	{
		org: "lernort-digital",
		fields: profile.Fields{
			DisplayName: "Lernort Digital gGmbH", Kind: profile.KindResearchInstitution, FoundingYear: 2019, SizeBand: profile.SizeSmall,
			Headquarters: "16051000", RegionsServed: []string{"Thüringen", "Sachsen", "Sachsen-Anhalt"}, Languages: []string{"de", "en"},
			Website:      "https://lernort-digital.example",
			Description:  "Ausgründung der Universität Erfurt: Lernplattformen und Medienentwicklungspläne für Schulträger, begleitet durch Evaluation.",
			Capabilities: []string{"Bildung", "Evaluation", "Lernplattform"},
			CPVCodes:     []string{"80000000", "48190000"},
			Products: []profile.Product{{
				Name: "Schulcampus", Description: "Lernplattform auf Moodle-Basis mit Single Sign-on der Länder.",
				Maturity: profile.MaturityInProduction, Hosting: profile.HostingGermany, Licence: "GPL-3.0-or-later",
			}},
			References:     []profile.Reference{{ClientOrganization: "Stadt Erfurt, Schulverwaltungsamt", Year: 2024, Delivered: "Medienentwicklungsplan für 60 Schulen"}},
			Certifications: []string{"ISO 27001"},
		},
	},
}

// Orgs are the organisation ids, and so the vendor ids, of the demo
// vendors.
func Orgs() []string {
	out := make([]string, len(vendors))
	for i, v := range vendors {
		out[i] = v.org
	}
	return out
}

// Seed creates the demo vendors through the domain service, each by its
// own organisation, so they pass the same validation and rules as user
// input. It returns how many it created; vendors that exist already are
// left alone, so Seed may run on every start.
func Seed(ctx context.Context, svc *profile.Service) (int, error) {
	created := 0
	for _, d := range vendors {
		self := identity.NewContext(ctx, identity.Principal{
			Subject: "demo@" + d.org, Org: d.org, Roles: []identity.Role{identity.RoleVendor},
		})
		_, err := svc.Create(self, profile.CreateRequest{Fields: d.fields, ID: d.org})
		if errors.Is(err, errdefs.ErrAlreadyExists) {
			continue
		}
		if err != nil {
			return created, fmt.Errorf("vendor %s: %w", d.org, err)
		}
		created++
	}
	return created, nil
}
