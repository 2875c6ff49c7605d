// Package demo loads a small, realistic German data set into an empty needs
// registry, so that a newcomer's first `make run` shows a living
// marketplace: municipalities of the Lahn valley cooperating (IKZ), a Land
// ministry, Hamburg's venture-client setting, needs in every state.
package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/services/needs/need"
)

// Organisations of the demo data, by id as they appear in tokens.
const (
	Giessen  = "stadt-giessen"
	Marburg  = "stadt-marburg"
	Wetzlar  = "stadt-wetzlar"
	Limburg  = "stadt-limburg"
	Hamburg  = "fhh-senatskanzlei"
	Hessen   = "hmdi-hessen"
	Koeln    = "stadt-koeln"
	Muenchen = "stadt-muenchen"
)

// step is what happens to a demo need after it is created.
type step int

const (
	keepDraft step = iota
	publish
	procure
	award
	closeIt
)

type demoNeed struct {
	id       string
	owner    string
	fields   need.Fields
	then     step
	joiners  []string
	award    need.Award
	reason   string
	deadline time.Duration // from now, for published needs
}

var needs = []demoNeed{
	{
		id: Giessen + ".terminbuchung-buergerbuero", owner: Giessen, then: publish, deadline: 30 * 24 * time.Hour,
		joiners: []string{Marburg, Wetzlar},
		fields: need.Fields{
			Title: "Online-Terminbuchung für Bürgerbüros",
			ProblemStatement: "Bürgerinnen und Bürger warten in unseren Bürgerbüros oft lange, weil Termine nur telefonisch vergeben werden. " +
				"Wir suchen eine Lösung, mit der Termine online gebucht, verschoben und abgesagt werden können, barrierefrei nach BITV 2.0, " +
				"mit Anbindung an unser Fachverfahren und ohne Datenabfluss außerhalb der EU. Die Städte Marburg und Wetzlar prüfen eine gemeinsame Beschaffung (IKZ).",
			DesiredOutcomes: []string{"Wartezeit im Bürgerbüro halbiert", "80 % der Termine online gebucht", "Barrierefreiheit nach BITV 2.0 nachgewiesen"},
			CPVCodes:        []string{"72212000", "48000000"},
			Places:          []string{"06531005", "06534014", "06532023"},
			BudgetMinEUR:    40000, BudgetMaxEUR: 90000,
			StartDate: need.Date{Year: 2027, Month: 3, Day: 1}, EndDate: need.Date{Year: 2027, Month: 12, Day: 31},
			Certifications: []string{"BITV 2.0", "ISO 27001"},
			// "ohne Datenabfluss außerhalb der EU" is not negotiable.
			Requirements: []need.Requirement{{Kind: need.RequirementHosting, Value: "eu", MustHave: true}},
		},
	},
	{
		id: Marburg + ".sensorik-starkregen", owner: Marburg, then: publish, deadline: 45 * 24 * time.Hour,
		fields: need.Fields{
			Title: "Frühwarnung bei Starkregen in der Altstadt",
			ProblemStatement: "Nach den Starkregenereignissen der letzten Jahre wollen wir Pegel an kleinen Gewässern und Kanälen in Echtzeit messen " +
				"und Anwohnende rechtzeitig warnen. Gesucht sind Sensorik, eine offene Datenplattform und Warnkanäle; die Daten sollen als Open Data veröffentlicht werden.",
			DesiredOutcomes: []string{"Warnung mindestens 30 Minuten vor Überflutung", "Messdaten als Open Data"},
			CPVCodes:        []string{"32441000", "48000000"},
			Places:          []string{"06534014"},
			BudgetMinEUR:    60000, BudgetMaxEUR: 150000,
			OpenSourceRequired: true,
		},
	},
	{
		id: Hessen + ".ki-posteingang", owner: Hessen, then: publish, deadline: 21 * 24 * time.Hour,
		joiners: []string{Limburg},
		fields: need.Fields{
			Title: "KI-gestützte Vorsortierung des Posteingangs",
			ProblemStatement: "Das Ministerium erhält täglich mehrere hundert Schreiben per Post und E-Mail. Eine Lösung soll Eingänge klassifizieren, " +
				"der zuständigen Stelle zuordnen und Fristen erkennen. Datenverarbeitung ausschließlich in Deutschland; Nachweis nach BSI C5.",
			DesiredOutcomes: []string{"Durchlaufzeit im Posteingang um 50 % senken"},
			CPVCodes:        []string{"72000000", "48000000"},
			Places:          []string{"DE7"},
			RemotePossible:  true,
			BudgetMinEUR:    100000, BudgetMaxEUR: 250000,
			Certifications: []string{"BSI C5", "ISO 27001"},
		},
	},
	{
		id: Wetzlar + ".leerstandsmelder", owner: Wetzlar, then: keepDraft,
		fields: need.Fields{
			Title:            "Leerstandsmanagement für die Innenstadt",
			ProblemStatement: "Leerstehende Ladenlokale sollen erfasst, Eigentümer kontaktiert und Zwischennutzungen vermittelt werden. Noch im Entwurf.",
			CPVCodes:         []string{"72212000"},
			Places:           []string{"06532023"},
		},
	},
	{
		id: Hamburg + ".venture-client-parkraum", owner: Hamburg, then: procure, deadline: 14 * 24 * time.Hour,
		fields: need.Fields{
			Title: "Digitale Parkraumerfassung für Lieferzonen",
			ProblemStatement: "Lieferzonen werden zugeparkt, Lieferverkehr steht in zweiter Reihe. Wir möchten mit einem Start-up im Rahmen der " +
				"Experimentierklausel die Belegung von Lieferzonen messen und Lieferdiensten anzeigen. Pilot über 12 Monate.",
			DesiredOutcomes: []string{"Belegung von 50 Lieferzonen in Echtzeit", "Weniger Parken in zweiter Reihe"},
			CPVCodes:        []string{"34970000", "72000000"},
			Places:          []string{"02000000"},
			BudgetMinEUR:    50000, BudgetMaxEUR: 100000,
		},
	},
	{
		id: Koeln + ".open-data-portal", owner: Koeln, then: award, deadline: 10 * 24 * time.Hour,
		award: need.Award{VendorName: "Offene Daten Werkstatt eG", ValueEUR: 84500, Date: need.Date{Year: 2026, Month: 9, Day: 15}},
		fields: need.Fields{
			Title:              "Betrieb und Weiterentwicklung des Open-Data-Portals",
			ProblemStatement:   "Das Open-Data-Portal der Stadt soll auf eine quelloffene Plattform migriert und drei Jahre betrieben werden.",
			CPVCodes:           []string{"72322000", "48610000"},
			Places:             []string{"05315000"},
			OpenSourceRequired: true,
			BudgetMinEUR:       60000, BudgetMaxEUR: 120000,
		},
	},
	{
		id: Muenchen + ".schulweg-app", owner: Muenchen, then: closeIt, deadline: 10 * 24 * time.Hour,
		reason: "Der Bedarf wird durch das landesweite Projekt abgedeckt; wir schließen uns dort an.",
		fields: need.Fields{
			Title:            "App für sichere Schulwege",
			ProblemStatement: "Eltern und Kinder sollen gefährliche Stellen auf Schulwegen melden können; die Meldungen fließen in die Verkehrsplanung ein.",
			CPVCodes:         []string{"72212000"},
			Places:           []string{"09162000"},
		},
	},
	{
		id: Limburg + ".barrierefreie-formulare", owner: Limburg, then: publish, deadline: 60 * 24 * time.Hour,
		fields: need.Fields{
			Title: "Barrierefreie Online-Formulare nach OZG",
			ProblemStatement: "Unsere Online-Formulare sind nicht barrierefrei und nicht an die Register angebunden. Gesucht wird ein " +
				"Formularbaukasten mit XÖV-Schnittstellen und Nachnutzung nach dem Einer-für-Alle-Prinzip.",
			CPVCodes:       []string{"72212000", "72413000"},
			Places:         []string{"06533009"},
			RemotePossible: true,
			Certifications: []string{"BITV 2.0", "XÖV"},
			BudgetMinEUR:   20000, BudgetMaxEUR: 60000,
		},
	},
}

// Seed creates the demo needs through the domain service, so they pass
// the same validation as user input. It returns how many it created; a
// registry that already holds them is left alone.
func Seed(ctx context.Context, svc *need.Service) (int, error) {
	created := 0
	for _, d := range needs {
		owner := identity.NewContext(ctx, buyer(d.owner))
		_, err := svc.Create(owner, d.fields, d.id)
		if errors.Is(err, errdefs.ErrAlreadyExists) {
			continue
		}
		if err != nil {
			return created, fmt.Errorf("need %s: %w", d.id, err)
		}
		created++
		if err := advance(ctx, svc, d); err != nil {
			return created, fmt.Errorf("need %s: %w", d.id, err)
		}
	}
	return created, nil
}

func advance(ctx context.Context, svc *need.Service, d demoNeed) error {
	owner := identity.NewContext(ctx, buyer(d.owner))
	if d.then == keepDraft {
		return nil
	}
	if _, err := svc.Publish(owner, d.id, time.Now().Add(d.deadline), ""); err != nil {
		return err
	}
	for _, org := range d.joiners {
		if _, err := svc.Join(identity.NewContext(ctx, buyer(org)), d.id); err != nil {
			return err
		}
	}
	var err error
	switch d.then {
	case procure:
		_, err = svc.StartProcurement(owner, d.id, "")
	case award:
		if _, err = svc.StartProcurement(owner, d.id, ""); err == nil {
			_, err = svc.Award(owner, d.id, d.award, "")
		}
	case closeIt:
		_, err = svc.Close(owner, d.id, d.reason, "")
	}
	return err
}

func buyer(org string) identity.Principal {
	return identity.Principal{Subject: "demo@" + org, Org: org, Roles: []identity.Role{identity.RoleBuyer}}
}

// demoResponse is a vendor's answer to a published demo need.
type demoResponse struct {
	need, vendor string
	fields       need.ResponseFields
}

var responses = []demoResponse{
	{need: Giessen + ".terminbuchung-buergerbuero", vendor: "terminfix", fields: need.ResponseFields{
		Summary:            "TerminFix läuft in 14 hessischen Bürgerbüros, barrierefrei nach BITV 2.0 und mit Schnittstellen zu den gängigen Meldewesen-Fachverfahren. Für drei Städte gemeinsam schlagen wir einen Pilot über sechs Monate vor.",
		IndicativePriceEUR: 36000, ContactEmail: "kommunen@terminfix.example"}},
	{need: Giessen + ".terminbuchung-buergerbuero", vendor: "codefor-giessen", fields: need.ResponseFields{
		Summary: "Wir haben eine quelloffene Terminbuchung für Vereine gebaut und würden sie mit einem Partner-Unternehmen für die Bürgerbüros weiterentwickeln."}},
	{need: Marburg + ".sensorik-starkregen", vendor: "pegelwacht", fields: need.ResponseFields{
		Summary:            "Pegelwacht misst mit LoRaWAN-Sensoren an 60 Gewässern in Niedersachsen; die Daten stehen als Open Data (CC BY 4.0) bereit, Warnungen gehen per Cell Broadcast und App raus.",
		IndicativePriceEUR: 95000, ContactEmail: "hallo@pegelwacht.example"}},
	{need: Hessen + ".ki-posteingang", vendor: "posteingang-ai", fields: need.ResponseFields{
		Summary:            "Unsere Klassifikation läuft in einem BSI-C5-testierten Rechenzentrum in Frankfurt; wir bieten einen Machbarkeitstest mit 1.000 anonymisierten Schreiben an.",
		IndicativePriceEUR: 120000, ContactEmail: "vertrieb@posteingang-ai.example"}},
}

// SeedResponses lets demo vendors answer published demo needs. Responses
// that exist already are left alone.
func SeedResponses(ctx context.Context, svc *need.Service) (int, error) {
	created := 0
	for _, r := range responses {
		vendor := identity.NewContext(ctx, identity.Principal{Subject: "demo@" + r.vendor, Org: r.vendor, Roles: []identity.Role{identity.RoleVendor}})
		_, err := svc.SubmitResponse(vendor, r.need, r.fields)
		if errors.Is(err, errdefs.ErrAlreadyExists) {
			continue
		}
		if err != nil {
			return created, fmt.Errorf("response of %s to %s: %w", r.vendor, r.need, err)
		}
		created++
	}
	return created, nil
}
