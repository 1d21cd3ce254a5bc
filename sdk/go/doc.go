package jwtkit
